"""The report of a comparison, computed from its results file alone: a table per arm, the paired
differences against the baseline with 95 % t intervals over the seeds, one verdict line per arm, a
Markdown file and a PNG plot (per-seed differences and a reliability diagram per arm). Single-label runs
are compared on top-1, NLL and ECE (`METRICS`), or on balanced accuracy in top-1's place when the evaluation list is
imbalanced (`BALANCED_METRICS`: the rule of `data.class_balance`, on the list's class counts each run recorded),
multi-label ones on mAP, mA, mean BCE and the per-label ECE (`MULTILABEL_METRICS`); the paired statistics are the
same for all."""

import statistics

import numpy as np

from ...core.calibration import expected_calibration_error
from ...core.files import write_whole
from ...core.label_calibration import mean_label_ece
from ..data.class_balance import RATIO, imbalance
from .arms import ARMS
from .stats import paired_interval

METRICS = {  # name: (title, unit, scale, the better direction)
    "top1": ("top-1", "points", 100, +1),
    "nll": ("NLL", "nats", 1, -1),
    "ece": ("ECE", "points", 100, -1),
}
BALANCED_METRICS = {
    "balanced_accuracy": ("balanced accuracy", "points", 100, +1),
    "nll": ("NLL", "nats", 1, -1),
    "ece": ("ECE", "points", 100, -1),
}
MULTILABEL_METRICS = {
    "map": ("mAP", "points", 100, +1),
    "ma": ("mA", "points", 100, +1),
    "nll": ("BCE", "nats", 1, -1),
    "ece": ("label ECE", "points", 100, -1),
}
SCALES = {**METRICS, **BALANCED_METRICS, **MULTILABEL_METRICS}  # a key's scale and direction, the same in both
EXTRA_PAIRS = (("rdrop", "baseline_long"), ("views_kl", "views_ce"))  # besides each arm - baseline


def metrics_of(rows):
    """The metrics the report compares: `MULTILABEL_METRICS` for multi-label runs (their rows have `map`),
    `BALANCED_METRICS` on an imbalanced evaluation list (`list_imbalance`), else `METRICS`."""
    if any("map" in row for row in rows):
        return MULTILABEL_METRICS
    return BALANCED_METRICS if list_imbalance(rows) else METRICS


def list_imbalance(rows):
    """The evaluation list's largest class / its smallest (`data.class_balance.imbalance`, from the class counts each
    run recorded, `support`) where it is imbalanced and every run has its balanced accuracy; else None."""
    if not rows or not all("balanced_accuracy" in row and "support" in row for row in rows):
        return None
    return imbalance(dict(enumerate(rows[0]["support"])))


def balance_line(rows):
    """The sentence that says the comparison reads balanced accuracy for top-1, or None where it does not."""
    ratio = list_imbalance(rows) if metrics_of(rows) is BALANCED_METRICS else None
    if ratio is None:
        return None
    return (
        f"The evaluation list is imbalanced (its largest class has {ratio:.1f}x the images of its smallest, above "
        f"{RATIO}x), so the verdicts read balanced accuracy (the mean of the per-class recalls) in top-1's place; "
        "each run's top-1 is in results.jsonl."
    )


def best_run(rows):
    """The row of the best run of `rows` by the report's first metric (top-1, balanced accuracy or mAP)."""
    metric = next(iter(metrics_of(rows)))
    return max(rows, key=lambda row: value(row, metric)) if rows else None


def value(row, metric):
    """`metric` of a results row (ECE from its per-bin counts; multi-label, the mean of each label's ECE)."""
    if metric != "ece":
        return row[metric]
    if "label_counts" in row:
        return mean_label_ece(row["label_counts"])
    return expected_calibration_error(*np.asarray(row["counts"]))


def pooled_counts(row):
    """The per-bin counts of a row's reliability diagram: its top-1 counts, or its labels' summed."""
    return np.asarray(row["label_counts"]).sum(axis=0) if "label_counts" in row else np.asarray(row["counts"])


def by_arm(rows):
    arms = {}
    for row in rows:
        arms.setdefault(row["arm"], {})[row["seed"]] = row
    return {arm: arms[arm] for arm in ARMS if arm in arms}


def paired(rows, a, b, metric):
    """(mean, half-width, n) of the paired differences a - b in `metric` (in its report unit) over the
    seeds both arms have; None under 2 seeds."""
    arms = by_arm(rows)
    scale = SCALES[metric][2]
    seeds = sorted(set(arms.get(a, {})) & set(arms.get(b, {})))
    return paired_interval((value(arms[a][s], metric) - value(arms[b][s], metric)) * scale for s in seeds)


def verdict(metric, cell):
    """`better` / `worse` beyond the interval, or `within the noise`."""
    mean, half, _ = cell
    if abs(mean) <= half:
        return "within the noise"
    return "better" if mean * SCALES[metric][3] > 0 else "worse"


def interval(metric, cell):
    mean, half, _ = cell
    digits = 4 if metric == "nll" else 2
    return f"{mean:+.{digits}f} [{mean - half:+.{digits}f}, {mean + half:+.{digits}f}]"


def pairs(rows):
    arms = by_arm(rows)
    found = [(arm, "baseline") for arm in arms if arm != "baseline"]
    return [(a, b) for a, b in found + list(EXTRA_PAIRS) if a in arms and b in arms]


def cost_key(rows):
    """The training time the report and `baseline_long` compare: `train_cpu_seconds` where every row has it
    (a pause or another job lengthens a run's wall time, not its CPU time), else `train_seconds`."""
    return "train_cpu_seconds" if rows and all("train_cpu_seconds" in row for row in rows) else "train_seconds"


def time_ratio(rows, a, b):
    """The median over common seeds of a's training seconds / b's (`cost_key`)."""
    arms, key = by_arm(rows), cost_key(rows)
    seeds = sorted(set(arms[a]) & set(arms[b]))
    return statistics.median(arms[a][s][key] / arms[b][s][key] for s in seeds)


def arm_lines(rows):
    key, metrics = cost_key(rows), metrics_of(rows)
    seconds = "train CPU s" if key == "train_cpu_seconds" else "train s"
    titles = [title + (" %" if scale == 100 else "") for title, _, scale, _ in metrics.values()]
    lines = [
        f"| arm | seeds | {' | '.join(titles)} | {seconds} | peak RSS MB | epochs |",
        "|---|---|" + "---|" * len(metrics) + "---|---|---|",
    ]
    for arm, seeds in by_arm(rows).items():
        runs = list(seeds.values())
        mean = lambda metric: statistics.mean(value(r, metric) for r in runs) * metrics[metric][2]  # noqa: E731
        epochs = sorted({r["epochs"] for r in runs if r["epochs"]})
        epochs = f"{epochs[0]}-{epochs[-1]}" if epochs else "as set"
        cells = " | ".join(f"{mean(m):.{4 if m == 'nll' else 2}f}" for m in metrics)
        lines.append(
            f"| {arm} | {len(runs)} | {cells} | {statistics.mean(r[key] for r in runs):.0f} | "
            f"{max(r['peak_rss_mb'] for r in runs):.0f} | {epochs} |"
        )
    return lines


def pair_lines(rows):
    metrics = metrics_of(rows)
    lines = [
        "| a - b | seeds | " + " | ".join(f"{title} ({unit})" for title, unit, _, _ in metrics.values())
        + " | train time a / b |",
        "|---|---|" + "---|" * len(metrics) + "---|",
    ]  # fmt: skip
    for a, b in pairs(rows):
        cells = {metric: paired(rows, a, b, metric) for metric in metrics}
        if all(cells.values()):
            lines.append(
                f"| {a} - {b} | {next(iter(cells.values()))[2]} | "
                + " | ".join(interval(m, cells[m]) for m in metrics)
                + f" | {time_ratio(rows, a, b):.2f}x |"
            )
    return lines


def verdict_lines(rows):
    """One line per pair: each metric's difference, interval and verdict, and the time ratio."""
    lines, metrics = [], metrics_of(rows)
    for a, b in pairs(rows):
        cells = {metric: paired(rows, a, b, metric) for metric in metrics}
        if not all(cells.values()):
            lines.append(f"{a} vs {b}: fewer than 2 common seeds, no interval yet")
            continue
        parts = [f"{metrics[m][0]} {interval(m, cells[m])} {verdict(m, cells[m])}" for m in metrics]
        ratio, seeds = time_ratio(rows, a, b), next(iter(cells.values()))[2]
        lines.append(f"{a} vs {b} ({seeds} seeds, 95 % intervals): {'; '.join(parts)}; {ratio:.2f}x the training time")
    return lines


def units_sentence(rows):
    """The report's line on the units and directions of its metrics."""
    if metrics_of(rows) is MULTILABEL_METRICS:
        return (
            "mAP, mA (ATTRMetric's mean accuracy, a label kept at a score above 0.5) and the per-label ECE (the "
            "mean over labels of each label's binary ECE) in points, BCE (mean binary cross-entropy per target) in "
            "nats; better is a higher mAP and mA and a lower BCE and ECE:"
        )
    first = next(iter(metrics_of(rows).values()))[0]
    return f"{first} and ECE in points, NLL in nats; better is a higher {first} and a lower NLL and ECE:"


def report_lines(rows, title):
    note = balance_line(rows)
    return [
        f"# {title}",
        "",
        *([note, ""] if note else []),
        "Per arm, mean over seeds (train CPU s: user + system seconds of tools/train.py, which a pause does "
        "not lengthen, or its wall seconds, train s, where a run did not record them; peak RSS: the largest "
        "of the train processes, as the OS counts it):",
        "",
        *arm_lines(rows),
        "",
        "Paired differences a - b over the seeds both arms have, mean [95 % t interval]; " + units_sentence(rows),
        "",
        *pair_lines(rows),
        "",
        "Verdicts (beyond the interval, or within the noise):",
        "",
        *[f"- {line}" for line in verdict_lines(rows)],
    ]


def plot(rows, path):
    """Per-seed paired differences against the baseline (each metric of `metrics_of`) and a reliability
    diagram per arm (the bins summed over seeds; multi-label, over labels too), as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms, metrics = by_arm(rows), metrics_of(rows)
    compared = pairs(rows)
    columns = max(len(metrics), len(arms))
    fig, axes = plt.subplots(2, columns, figsize=(4 * columns, 7.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        title, unit, scale, _ = metrics[metric]
        for row_index, (a, b) in enumerate(compared):
            seeds = sorted(set(arms[a]) & set(arms[b]))
            diffs = [(value(arms[a][s], metric) - value(arms[b][s], metric)) * scale for s in seeds]
            ax.plot(diffs, [row_index] * len(diffs), "o", alpha=0.5, color="tab:blue")
            cell = paired_interval(diffs)
            if cell:
                ax.errorbar([cell[0]], [row_index], xerr=[cell[1]], fmt="D", color="black", capsize=4)
        ax.axvline(0, color="gray", linewidth=0.8)
        ax.set_yticks(range(len(compared)), [f"{a}\n- {b}" for a, b in compared], fontsize=8)
        ax.set_xlabel(f"{title} difference ({unit}): seeds, mean and 95 % CI")
    for ax in axes[0][len(metrics) :]:
        ax.axis("off")
    for ax, (arm, seeds) in zip(axes[1], arms.items()):
        reliability(ax, arm, list(seeds.values()))
    for ax in axes[1][len(arms) :]:
        ax.axis("off")
    fig.tight_layout()
    write_whole(path, lambda handle: fig.savefig(handle, format="png", dpi=100), mode="wb")
    plt.close(fig)


def reliability(ax, arm, runs):
    """The reliability diagram of one arm's `runs` (their bins summed) on `ax`, its ECE in the title."""
    count, confidence, correct = np.sum([pooled_counts(r) for r in runs], axis=0)
    multilabel = "label_counts" in runs[0]
    if multilabel:  # the mean of each label's ECE, each from its bins summed over seeds
        ece = mean_label_ece(np.sum([np.asarray(r["label_counts"]) for r in runs], axis=0))
    else:
        ece = expected_calibration_error(count, confidence, correct)
    bins = len(count)
    edges = np.linspace(0, 1, bins + 1)
    seen = count > 0
    accuracy = correct[seen] / count[seen]
    label = "share of positives" if multilabel else "accuracy"
    ax.bar(edges[:-1][seen], accuracy, width=1 / bins, align="edge", edgecolor="black", label=label)
    ax.plot(confidence[seen] / count[seen], accuracy, "r.", label="mean score" if multilabel else "mean confidence")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_title(f"{arm}: {'label ECE' if multilabel else 'ECE'} {100 * ece:.2f} %", fontsize=9)
    ax.set_xlabel("label score (every label)" if multilabel else "top-1 confidence")
    ax.set_ylabel(label)
    ax.legend(fontsize=7, loc="upper left")
