"""tools/compare.py on a multi-label recipe (the overrides csv_to_lists.py writes for a CSV of digits with five
attributes): a tiny comparison, 2 seeds of 1 epoch, on the standalone engine (and on PaddleClas's Engine when
PADDLECLAS_ROOT is set), reports mAP, mA, mean BCE and the per-label ECE; each results row is checked against
the scores its evaluation wrote (scikit-learn's AP, the binary cross-entropy, each label's ECE), and the
report's numbers against the results file."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score
from test_compare import RECIPE, TOOLS, check_interval, table

from engine_runs import DIGIT_ATTRIBUTES, ENGINES, TINY, digit_targets, engine_param, run_overrides, tool_environment


def write_lists(folder):
    """48 digits at 16 px with their attributes as `|`-joined labels, made into lists by csv_to_lists.py;
    the `-o` arguments of its overrides.txt."""
    from paddleclas_rdrop.tools.data.demo import digits_images

    images, digits = digits_images(size=16, count=48)
    os.makedirs(folder / "imgs")
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label"])
        for index, (image, target) in enumerate(zip(images, digit_targets(digits))):
            Image.fromarray(image).save(folder / "imgs" / f"{index}.png")
            writer.writerow([f"{index}.png", "|".join(n for n, t in zip(DIGIT_ATTRIBUTES, target) if t)])
    command = [sys.executable, os.path.join(TOOLS, "csv_to_lists.py"), "--csv", str(folder / "labels.csv")]
    command += ["--image-root", str(folder / "imgs"), "--out", str(folder / "lists"), "--size", "16"]
    result = subprocess.run(command + ["--label-delimiter", "|", "--val-ratio", "0.25"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return (folder / "lists" / "overrides.txt").read_text().split()


def label_ece(scores, targets, bins=15):
    """The mean over labels of each label's binary ECE, written out on its own."""
    eces = []
    for s, t in zip(scores.T, targets.T):
        which = np.minimum((s * bins).astype(int), bins - 1)
        eces.append(sum(abs(t[which == b].sum() - s[which == b].sum()) for b in range(bins)) / len(s))
    return np.mean(eces)


def check_row(row, run):
    """A results row against the scores and targets its evaluation wrote."""
    with np.load(run / "scores.npz") as data:
        scores, targets = data["scores"].astype(np.float64), data["targets"]
    assert scores.shape == (row["images"], 5) and set(np.unique(targets)) <= {0, 1}
    aps = [average_precision_score(t, s) for s, t in zip(scores.T, targets.T) if t.any()]
    assert abs(row["map"] - np.mean(aps)) < 1e-9
    p = np.clip(scores, 1e-12, 1 - 1e-12)
    assert abs(row["nll"] - np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)))) < 1e-9
    kept = scores > 0.5
    recalls = []
    for k, t in zip(kept.T, targets.T):  # ATTRMetric's ma: (positive recall + negative recall) / 2
        recalls.append(
            ((k & (t == 1)).sum() / ((t == 1).sum() + 1e-20) + (~k & (t == 0)).sum() / ((t == 0).sum() + 1e-20)) / 2
        )
    ma = np.mean(recalls)
    assert abs(row["ma"] - ma) < 1e-9
    return label_ece(scores, targets)


# on the standalone engine: the report reads the runs' scores files, which both engines' LabelCalibration writes
@pytest.mark.parametrize("engine", [engine_param("standalone")])
def test_a_tiny_multilabel_comparison_reports_map_bce_and_the_per_label_ece(engine, tmp_path):
    run = run_overrides(batch_size=16, epochs=1, output_dir=str(tmp_path / "unused"))
    extra = run + TINY + ["Optimizer.lr.warmup_epoch=0"]
    overrides = write_lists(tmp_path) + [arg for key in extra for arg in ("-o", key)]
    out = tmp_path / "compare"
    command = [sys.executable, os.path.join(TOOLS, "compare.py"), "-c", RECIPE, "--seeds", "2", "--out", str(out)]
    env = tool_environment(ENGINES[engine])
    result = subprocess.run(command + overrides, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["arm"], r["seed"]) for r in rows) == [("baseline", 0), ("baseline", 1), ("rdrop", 0), ("rdrop", 1)]
    eces = {(r["arm"], r["seed"]): check_row(r, out / "runs" / f"{r['arm']}_seed{r['seed']}") for r in rows}
    by = {(r["arm"], r["seed"]): r for r in rows}
    report = (out / "report.md").read_text()
    arms = table(report, "| arm |")
    assert report.count("| arm | seeds | mAP % | mA % | BCE | label ECE % |") == 1
    for arm in ("baseline", "rdrop"):
        seeds, shown_map, shown_ma, shown_bce, shown_ece = arms[arm][:5]
        assert int(seeds) == 2
        assert abs(float(shown_map) - 100 * np.mean([by[(arm, s)]["map"] for s in (0, 1)])) < 0.006
        assert abs(float(shown_ma) - 100 * np.mean([by[(arm, s)]["ma"] for s in (0, 1)])) < 0.006
        assert abs(float(shown_bce) - np.mean([by[(arm, s)]["nll"] for s in (0, 1)])) < 0.00006
        assert abs(float(shown_ece) - 100 * np.mean([eces[(arm, s)] for s in (0, 1)])) < 0.006
    pair = table(report, "| a - b |")["rdrop - baseline"]
    assert pair[0] == "2"
    for cell, metric, scale in ((pair[1], "map", 100), (pair[2], "ma", 100), (pair[3], "nll", 1)):
        check_interval(cell, [scale * (by[("rdrop", s)][metric] - by[("baseline", s)][metric]) for s in (0, 1)])
    check_interval(pair[4], [100 * (eces[("rdrop", s)] - eces[("baseline", s)]) for s in (0, 1)])
    assert "rdrop vs baseline (2 seeds, 95 % intervals): mAP " in result.stdout and "; BCE " in result.stdout
    assert (out / "report.png").stat().st_size > 10_000
