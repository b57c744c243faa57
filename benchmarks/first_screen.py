"""The README's first-screen table, recomputed from the studies' result files (no training).

    python benchmarks/first_screen.py     # prints the table; tests/test_first_screen.py checks the README's equals it

Each row is one comparison of a study in docs/benchmarks.md, read from the file that study wrote:
- `vit_study/test/` and `equal_compute/` are `tools/compare.py` folders: their paired intervals and time
  ratios are compare's own (`paddleclas_rdrop.tools.compare.report.paired` and `time_ratio`), alpha and
  warm-up come from the rdrop arm's config in `setup.json`;
- `views_study_runs.jsonl` (its test phase) and `views_product_runs.jsonl` are read with the studies' own
  `views_study.paired`; alpha and warm-up are in each run's line.
- `robustness_study/<regime>/results.jsonl` (`benchmarks/robustness_study.py`, a repeat of rows 1, 2 and 4's
  regimes evaluated on ImageNet-C's corruptions of the test subset): the top-1 over every corrupted copy,
  paired as compare's report pairs it (`robustness.paired_corrupted`), over the seeds run so far.
Every interval is the 95 % t interval of the paired differences over the seeds both arms have (a bound that
rounds to 0.00 is shown to 3 decimals, so that its sign shows). Every time is the median over those seeds of
the per-seed ratio of training CPU seconds; where a results file holds wall seconds only, the cell says so.
A cell whose verdict (better, worse, within the noise) differs in a repeat of the same comparison says
"borderline" and gives the repeat's interval.
"""

import glob
import json
import os
import statistics
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path[:0] = [HERE, PROJECT]
import robustness_study  # noqa: E402  (its declared seeds and arms)
import views_study  # noqa: E402  (the paired intervals of phases 1 and 2)

from paddleclas_rdrop.tools.compare import report, robustness  # noqa: E402

from accuracy import read_results  # noqa: E402

# Per source: (kind, results file, setup file of a compare folder). "compare": a tools/compare.py folder;
# "views": a views_study.py / views_product.py results file (its test phase).
SOURCES = {
    "vit": ("compare", "vit_study/test/results.jsonl", "vit_study/test/setup.json"),
    "equal": ("compare", "equal_compute/results.jsonl", "equal_compute/setup.json"),
    "phase1": ("views", "views_study_runs.jsonl", None),
    "phase2": ("views", "views_product_runs.jsonl", None),
}
# Per row: the source, R-Drop's arm, its control, the control trained as long (or None), the one-pass arms
# with and without the stochastic layers (rows whose control has two views), a repeat of the same comparison
# (source) and the row's words; `{alpha}` is filled in from the source.
ROWS = [
    {
        "source": "vit",
        "arm": "rdrop",
        "control": "baseline",
        "long": "baseline_long",
        "robust": "deit_tiny",
        "regime": "DeiT-tiny, dropout in every block: the paper's kind of regime at toy scale, {alpha}",
        "against": "its twin: the same dropout, one pass",
    },
    {
        "source": "equal",
        "arm": "rdrop",
        "control": "baseline",
        "long": "baseline_long",
        "repeat": ("phase2", "rdrop", "stochastic"),
        "robust": "se_resnet18",
        "regime": "SE_ResNet18_vd trained whole, the recipes' head dropout and drop path, {alpha}",
        "against": "its twin: the same layers, one pass",
    },
    {
        "source": "phase1",
        "arm": "rdrop",
        "control": "stochastic",
        "regime": "the same, only its last stage trained, {alpha}",
        "against": "its twin",
    },
    {
        "source": "phase2",
        "arm": "views_kl",
        "control": "views_ce",
        "one_pass": ("stochastic", "baseline"),
        "robust": "se_resnet18",
        "robust_control": "views_ce",
        "regime": "SE_ResNet18_vd trained whole, each pass its own augmented view, {alpha}",
        "against": "two views, CE only",
    },
    {
        "source": "phase1",
        "arm": "views_kl",
        "control": "views_ce",
        "one_pass": ("stochastic", "baseline"),
        "regime": "the same, only its last stage trained, {alpha}",
        "against": "two views, CE only",
    },
]
HEADER = (
    "| model and regime (seeds) | R-Drop against | top-1 (points) | ECE (points) | R-Drop's training time "
    "(median over seeds of its CPU s / the control's) | top-1 against the control trained as long | "
    "top-1 under ImageNet-C corruption (points; seeds so far) |"
)


class Study:
    """The results of one source: paired intervals, time ratios, alpha and warm-up of an arm."""

    def __init__(self, name):
        self.kind, results, setup = SOURCES[name]
        self.rows = read_results(os.path.join(RESULTS, results))
        if self.kind == "views":
            self.rows = [row for row in self.rows if row["phase"] == "test"]
        self.setup = read_setup(os.path.join(RESULTS, setup)) if setup else None

    def paired(self, a, b, metric):
        if self.kind == "compare":
            return report.paired(self.rows, a, b, metric)
        return views_study.paired(self.rows, a, b, metric, seeds=sorted({row["seed"] for row in self.rows}))

    def seconds_key(self):
        if self.kind == "compare":
            return report.cost_key(self.rows)
        return "cpu_seconds" if all("cpu_seconds" in row for row in self.rows) else "train_seconds"

    def time_ratio(self, a, b):
        if self.kind == "compare":
            return report.time_ratio(self.rows, a, b)
        key, by = self.seconds_key(), {(row["arm"], row["seed"]): row for row in self.rows}
        seeds = [seed for arm, seed in by if arm == a and (b, seed) in by]
        return statistics.median(by[(a, seed)][key] / by[(b, seed)][key] for seed in seeds)

    def alpha(self, arm):
        """(alpha, warm-up epochs) of `arm`'s KL."""
        if self.kind == "compare":
            config = self.setup[arm]
            weight = next(loss["RDropLoss"]["weight"] for loss in config["Loss"]["Train"] if "RDropLoss" in loss)
            return weight, (config.get("RDrop") or {}).get("alpha_warmup_epochs", 0)
        (setting,) = {(row["alpha"], row["warmup"]) for row in self.rows if row["arm"] == arm}
        return setting


def read_setup(path):
    """{arm: config} of a compare folder's setup.json."""
    with open(path) as handle:
        return {arm: yaml.safe_load(text) for arm, text in json.load(handle)["configs"].items()}


def recipes_warmup():
    """The alpha warm-up epochs of the shipped R-Drop recipes (configs/rdrop_*.yaml), as a set."""
    found = set()
    for path in glob.glob(os.path.join(PROJECT, "configs", "rdrop_*.yaml")):
        with open(path) as handle:
            found.add((yaml.safe_load(handle).get("RDrop") or {}).get("alpha_warmup_epochs", 0))
    return found


def bound(x):
    return f"{x:+.3f}" if round(abs(x), 2) == 0 else f"{x:+.2f}"


def interval(cell):
    mean, half, _ = cell
    return f"{mean:+.2f} [{bound(mean - half)}, {bound(mean + half)}]"


def alpha_words(alpha, warmup):
    if not warmup:
        return f"alpha {alpha:g}"
    lacking = " the recipes lack" if recipes_warmup() == {0} else ""
    return f"alpha {alpha:g} with a {warmup}-epoch warm-up{lacking}"


def metric_cell(row, study, metric):
    cell = study.paired(row["arm"], row["control"], metric)
    text = interval(cell)
    if "repeat" in row:
        source, a, b = row["repeat"]
        again = Study(source).paired(a, b, metric)
        if report.verdict(metric, again) != report.verdict(metric, cell):
            mean, half, _ = again
            text += f", borderline: a repeat gave [{bound(mean - half)}, {bound(mean + half)}]"
    return text, cell[2]


def time_cell(row, study):
    text = f"{study.time_ratio(row['arm'], row['control']):.2f}x"
    if study.seconds_key() == "train_seconds":
        text += ", wall s (its results file has no CPU s)"
    if "one_pass" in row:
        same, bare = (study.time_ratio(row["arm"], one) for one in row["one_pass"])
        text += f"; one pass with the same layers {same:.2f}x, without them {bare:.2f}x"
    return text


def robust_cell(row):
    """The arm's top-1 over every corrupted copy against its control's, paired over the robustness study's seeds
    that have all its arms, as its report pairs them ("not measured" for a regime the study does not repeat)."""
    if "robust" not in row:
        return "not measured"
    rows = read_results(os.path.join(RESULTS, "robustness_study", row["robust"], "results.jsonl"))
    whole = robustness_study.complete(rows, robustness_study.ARMS)
    declared = robustness_study.SEEDS[row["robust"]]
    control = row.get("robust_control", "baseline")
    cell = robustness.paired_corrupted(whole, row["arm"], control, "top1") if whole else None
    if cell is None:
        return f"{len({r['seed'] for r in whole})} of {declared} seeds run"
    return f"{interval(cell)}, {cell[2]} of {declared} seeds"


def shift_sentence():
    """The README's sentence on what pays under corruption, from the robustness study's results files
    (`shift_words`): each variant against its control, its cost against one pass (`baseline`), and against one
    pass trained as long (`baseline_long`)."""
    found = []
    for row in ROWS:
        if "robust" in row:
            rows = read_results(os.path.join(RESULTS, "robustness_study", row["robust"], "results.jsonl"))
            whole = robustness_study.complete(rows, robustness_study.ARMS)
            seeds = {r["seed"] for r in whole}
            pair = lambda b: robustness.paired_corrupted(whole, row["arm"], b, "top1") if len(seeds) > 1 else None  # noqa: E731
            ratio = report.time_ratio(whole, row["arm"], "baseline") if len(seeds) > 1 else None
            ended = len(seeds) >= robustness_study.SEEDS[row["robust"]]
            variant = VARIANTS[row["arm"]].format(regime=REGIMES[row["robust"]])
            found.append((variant, pair(row.get("robust_control", "baseline")), ratio, pair("baseline_long"), ended))
    return shift_words(found)


VARIANTS = {"rdrop": "R-Drop on {regime}", "views_kl": "a view per pass with the KL on {regime}"}
REGIMES = {"deit_tiny": "DeiT-tiny", "se_resnet18": "SE_ResNet18_vd"}


def shift_words(found):
    """`found`: [(variant, (mean, half-width, n) of its top-1 under corruption minus its control's, in points,
    its training time over one pass's, the same difference against one pass trained as long, whether its study
    ended)]. While a study runs: that the verdict waits for it; then each variant whose interval lies above zero,
    with its interval, time and the difference against training as long, or that none does."""
    if not found or not all(ended for *_, ended in found):
        return "Which variant pays under corruption, and at what cost, is stated here once the robustness study ends."
    paying = [entry for entry in found if entry[1] is not None and entry[1][0] - entry[1][1] > 0]
    if not paying:
        return "Under corruption no variant pays: no interval lies above zero."
    said = "; ".join(
        f"{variant}, {interval(cell)} points at {ratio:.2f}x one pass's training time"
        + (f" ({interval(longer)} against one pass trained as long)" if longer else "")
        for variant, cell, ratio, longer, _ in paying
    )
    return f"Under corruption, what pays: {said}."


def line(row):
    study = Study(row["source"])
    top1, seeds = metric_cell(row, study, "top1")
    ece, _ = metric_cell(row, study, "ece")
    regime = row["regime"].format(alpha=alpha_words(*study.alpha(row["arm"])))
    longer = interval(study.paired(row["arm"], row["long"], "top1")) if row.get("long") else "not measured"
    cells = [f"{regime} ({seeds})", row["against"], top1, ece, time_cell(row, study), longer, robust_cell(row)]
    return "| " + " | ".join(cells) + " |"


def table():
    """The first-screen table, as markdown lines."""
    return [HEADER, "|---" * 7 + "|", *map(line, ROWS)]


if __name__ == "__main__":
    print("\n".join(table()))
    print(f"\n{shift_sentence()}")
