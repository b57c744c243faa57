"""The robustness part of a comparison's report (`tools/compare.py --corruptions`), from its results file alone:
each run's row holds its values on every corrupted copy of the evaluation list (`corruptions`: {"<name>/<severity>":
{"top1", "ece", ...}}; multi-label runs: "map" in place of "top1").

Per arm: top-1 and ECE on the clean list and the mean over the copies, and the mean corruption error against the
baseline arm, mCE (Hendrycks & Dietterich, ICLR 2019, with the baseline in AlexNet's place): per corruption c,
CE_c = sum over severities of the arm's top-1 error / the same sum of the baseline's (errors averaged over each
arm's seeds), and mCE = the mean of CE_c over the corruptions, in % (the baseline's is 100). Per pair of arms
(`report.pairs`): the paired differences over seeds, with 95 % t intervals, of the mean top-1 over each family's
copies and over all of them. Multi-label runs are compared on mAP; mCE, an error rate of top-1, is not given
for them. A PNG plots the mean top-1 (mAP) against the severity per arm, all copies and each family.
"""

import statistics

import numpy as np

from ...core.files import write_whole
from ..data.corruptions import FAMILIES, FAMILY_OF, SEVERITIES
from .report import by_arm, interval, pairs, value, verdict
from .stats import paired_interval


def robust_rows(rows):
    """The rows with values on corrupted copies."""
    return [row for row in rows if row.get("corruptions")]


def metric_of(rows):
    """("map", "mAP") for multi-label rows, else ("top1", "top-1")."""
    return ("map", "mAP") if any("map" in row for row in rows) else ("top1", "top-1")


def corrupted_mean(row, key, family=None):
    """The mean of `key` over the row's corrupted copies (those of `family` only, when given)."""
    found = [v[key] for name, v in row["corruptions"].items() if family in (None, FAMILY_OF[name.split("/")[0]])]
    return float(np.mean(found)) if found else float("nan")


def corruptions_of(rows):
    """The corruptions every row was evaluated on, in `FAMILIES` order."""
    names = [{name.split("/")[0] for name in row["corruptions"]} for row in rows]
    common = set.intersection(*names) if names else set()
    return [name for name in FAMILY_OF if name in common]


def mean_errors(runs, corruption, key="top1"):
    """The top-1 error of `corruption` at each severity, averaged over `runs` (one arm's rows)."""
    return [statistics.mean(1 - r["corruptions"][f"{corruption}/{s}"][key] for r in runs) for s in SEVERITIES]


def mce(runs, baseline_runs, corruptions):
    """Hendrycks & Dietterich's mCE of `runs` against `baseline_runs` over `corruptions`, as a fraction (1.0:
    the baseline's); None where the baseline makes no error on some corruption (CE_c undefined)."""
    ces = []
    for corruption in corruptions:
        baseline = sum(mean_errors(baseline_runs, corruption))
        if baseline == 0:
            return None
        ces.append(sum(mean_errors(runs, corruption)) / baseline)
    return float(np.mean(ces))


def mce_note(rows):
    """Why the mCE column reads "-": the corruptions the baseline made no error on at any severity (the divisor
    of their corruption error is 0); [] where it has a value."""
    baseline = list(by_arm(rows).get("baseline", {}).values())
    if metric_of(rows)[0] != "top1" or not baseline:
        return []
    perfect = [name for name in corruptions_of(rows) if sum(mean_errors(baseline, name)) == 0]
    return [f"mCE -: the baseline made no error on {', '.join(perfect)} at any severity (0 divides)"] if perfect else []


def arm_lines(rows):
    """The per-arm table: clean and corrupted top-1 (mAP) and ECE, mean over seeds, and mCE."""
    key, title = metric_of(rows)
    arms = by_arm(rows)
    baseline, corruptions = list(arms.get("baseline", {}).values()), corruptions_of(rows)
    lines = [
        f"| arm | seeds | clean {title} % | corrupted {title} % | clean ECE % | corrupted ECE % |"
        + (" mCE % |" if key == "top1" else ""),
        "|---|---|---|---|---|---|" + ("---|" if key == "top1" else ""),
    ]
    for arm, seeds in arms.items():
        runs = list(seeds.values())
        cells = [
            100 * statistics.mean(r[key] for r in runs),
            100 * statistics.mean(corrupted_mean(r, key) for r in runs),
            100 * statistics.mean(value(r, "ece") for r in runs),
            100 * statistics.mean(corrupted_mean(r, "ece") for r in runs),
        ]
        line = f"| {arm} | {len(runs)} | " + " | ".join(f"{c:.2f}" for c in cells) + " |"
        if key == "top1":
            error = mce(runs, baseline, corruptions) if baseline else None
            line += f" {100 * error:.2f} |" if error is not None else " - |"
        lines.append(line)
    return lines


def paired_corrupted(rows, a, b, key, family=None):
    """(mean, half-width, n) of the paired differences a - b, in points, of the corrupted mean of `key`."""
    arms = by_arm(rows)
    seeds = sorted(set(arms[a]) & set(arms[b]))
    return paired_interval(
        100 * (corrupted_mean(arms[a][s], key, family) - corrupted_mean(arms[b][s], key, family)) for s in seeds
    )


def pair_lines(rows):
    """The paired differences a - b of the corrupted top-1 (mAP): all copies, then each family; and the ECE."""
    key, title = metric_of(rows)
    lines = [
        f"| a - b | seeds | {title}: all | " + " | ".join(FAMILIES) + " | ECE: all |",
        "|---|---|---|" + "---|" * len(FAMILIES) + "---|",
    ]
    found = {FAMILY_OF[name] for name in corruptions_of(rows)}
    for a, b in pairs(rows):
        cells = [paired_corrupted(rows, a, b, key, f) if f in found else None for f in FAMILIES]  # None: "-"
        cells = [paired_corrupted(rows, a, b, key), *cells, paired_corrupted(rows, a, b, "ece")]
        if cells[0]:
            shown = [interval("top1", cell) if cell else "-" for cell in cells]
            lines.append(f"| {a} - {b} | {cells[0][2]} | " + " | ".join(shown) + " |")
    return lines


def verdict_lines(rows):
    """One line per pair: the corrupted top-1 (mAP) difference, its interval and verdict."""
    key, title = metric_of(rows)
    lines = []
    for a, b in pairs(rows):
        cell = paired_corrupted(rows, a, b, key)
        if cell:
            lines.append(
                f"{a} vs {b} under corruption ({cell[2]} seeds, 95 % intervals): {title} {interval('top1', cell)} "
                f"{verdict('top1', cell)}"
            )
    return lines


def report_lines(rows):
    """The robustness section of report.md."""
    rows = robust_rows(rows)
    if not rows:
        return []
    key, title = metric_of(rows)
    left_out = {name: why for row in rows for name, why in row.get("corruptions_left_out", {}).items()}
    used = corruptions_of(rows)
    mce_words = (
        "mCE (Hendrycks & Dietterich 2019): per corruption, the arm's top-1 error summed over the severities "
        "divided by the baseline's, averaged over the corruptions, in % (the baseline's is 100)"
        if key == "top1"
        else "no mCE: it is an error rate of top-1, and these runs are multi-label"
    )
    return [
        "",
        f"## Robustness: {len(used)} ImageNet-C corruptions at severities 1-5",
        "",
        *[f"- {name} left out: it failed on these images ({why})" for name, why in sorted(left_out.items())],
        *([""] if left_out else []),
        f"Per arm, mean over seeds: {title} and ECE in %, on the clean list and averaged over every corrupted "
        f"copy; {mce_words}:",
        "",
        *arm_lines(rows),
        *[f"\n{line}" for line in mce_note(rows)],
        "",
        f"Paired differences a - b of the {title} under corruption (points; the mean over all copies, then over "
        "each family's) and of the ECE over all copies, mean [95 % t interval] over the seeds:",
        "",
        *pair_lines(rows),
        "",
        *[f"- {line}" for line in verdict_lines(rows)],
    ]


def plot(rows, path):
    """The mean top-1 (mAP) over seeds and copies against the severity (0: clean), per arm: all copies, then
    each family, as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = robust_rows(rows)
    key, title = metric_of(rows)
    fig, axes = plt.subplots(1, 1 + len(FAMILIES), figsize=(3.6 * (1 + len(FAMILIES)), 3.6), sharey=True)
    for ax, family in zip(axes, (None, *FAMILIES)):
        for arm, seeds in by_arm(rows).items():
            runs = list(seeds.values())
            curve = [statistics.mean(r[key] for r in runs)]
            for severity in SEVERITIES:
                found = [
                    v[key]
                    for r in runs
                    for name, v in r["corruptions"].items()
                    if name.endswith(f"/{severity}") and family in (None, FAMILY_OF[name.split("/")[0]])
                ]
                curve.append(float(np.mean(found)) if found else float("nan"))
            ax.plot(range(len(curve)), [100 * c for c in curve], "o-", label=arm)
        ax.set_title(f"{family or 'all corruptions'}", fontsize=9)
        ax.set_xticks(range(len(SEVERITIES) + 1), ["clean", *map(str, SEVERITIES)])
        ax.set_xlabel("severity")
    axes[0].set_ylabel(f"{title} % (mean over seeds and copies)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    write_whole(path, lambda handle: fig.savefig(handle, format="png", dpi=100), mode="wb")
    plt.close(fig)
