"""The robustness section of the compare report (`paddleclas_rdrop.tools.compare.robustness`) on results rows
written out by hand: mCE against Hendrycks & Dietterich's definition computed by hand, the paired family
differences against their 95 % t intervals, and a multi-label comparison reported on mAP, without top-1 or mCE."""

import math

import pytest
from test_compare import check_interval, table

from paddleclas_rdrop.tools.compare.robustness import mce, report_lines

NOISE = [0.9, 0.8, 0.7, 0.6, 0.5]  # a baseline's top-1 on gaussian_noise at severities 1-5


def row(arm, seed, noise, fog, key="top1"):
    """A results row: clean top-1 0.9 (ECE 0.1), and `key` per severity on gaussian_noise and fog (ECE 0.2)."""
    copies = {}
    for name, values in (("gaussian_noise", noise), ("fog", fog)):
        for severity, found in enumerate(values, 1):
            copies[f"{name}/{severity}"] = {key: found, "ece": 0.2}
    clean = {"top1": 0.9, "counts": [[10.0], [8.0], [9.0]]}
    if key == "map":
        clean = {"map": 0.9, "label_counts": [[[10.0], [8.0], [9.0]]]}
    return {"arm": arm, "seed": seed, **clean, "corruptions": copies, "corruptions_left_out": {}}


ROWS = [
    row("baseline", 0, NOISE, [0.8] * 5),
    row("baseline", 1, NOISE, [0.8] * 5),
    row("rdrop", 0, [0.95, 0.85, 0.75, 0.65, 0.55], [0.7] * 5),
    row("rdrop", 1, [0.85, 0.85, 0.75, 0.65, 0.55], [0.7] * 5),
]


def test_mce_is_the_mean_over_corruptions_of_the_summed_errors_over_the_baselines():
    # gaussian_noise: rdrop's errors averaged over seeds 0.10, 0.15, 0.25, 0.35, 0.45 (sum 1.30) against the
    # baseline's 0.1 ... 0.5 (sum 1.50); fog: 5 x 0.3 = 1.5 against 5 x 0.2 = 1.0
    expected = (1.30 / 1.50 + 1.5 / 1.0) / 2
    baseline = [r for r in ROWS if r["arm"] == "baseline"]
    rdrop = [r for r in ROWS if r["arm"] == "rdrop"]
    assert mce(rdrop, baseline, ["gaussian_noise", "fog"]) == pytest.approx(expected, abs=1e-12)
    assert mce(baseline, baseline, ["gaussian_noise", "fog"]) == pytest.approx(1.0)
    arms = table("\n".join(report_lines(ROWS)), "| arm |")
    assert arms["baseline"][-1] == "100.00" and arms["rdrop"][-1] == f"{100 * expected:.2f}" == "118.33"
    assert arms["rdrop"][1:5] == ["90.00", "72.00", "10.00", "20.00"]  # clean, corrupted top-1, clean, corrupted ECE


def test_the_paired_family_differences_are_the_t_intervals_over_seeds():
    report = "\n".join(report_lines(ROWS))
    cells = dict(
        zip(
            ["seeds", "all", "noise", "blur", "weather", "digital", "ece"],
            table(report, "| a - b |")["rdrop - baseline"],
        )
    )
    assert cells["seeds"] == "2" and cells["blur"] == cells["digital"] == "-"  # no copy of theirs
    check_interval(cells["all"], [100 * (0.725 - 0.75), 100 * (0.715 - 0.75)])
    check_interval(cells["noise"], [100 * (0.75 - 0.70), 100 * (0.73 - 0.70)])
    assert cells["weather"] == "-10.00 [-10.00, -10.00]" and cells["ece"] == "+0.00 [+0.00, +0.00]"
    verdict = "under corruption (2 seeds, 95 % intervals): top-1 -3.00 [-9.35, +3.35] within the noise"
    assert f"- rdrop vs baseline {verdict}" in report
    assert math.isclose(float(cells["all"].split()[0]), -3.0)


def test_a_multilabel_comparison_is_reported_on_map_without_top1_or_mce():
    rows = [row(r["arm"], r["seed"], NOISE, [0.8] * 5, key="map") for r in ROWS]
    report = "\n".join(report_lines(rows))
    assert "| arm | seeds | clean mAP % | corrupted mAP % | clean ECE % | corrupted ECE % |\n" in report
    assert "no mCE: it is an error rate of top-1" in report and "mCE %" not in report
    assert "top-1" not in report.replace("an error rate of top-1", "")
    assert table(report, "| arm |")["baseline"][1:3] == ["90.00", "75.00"]


def test_an_mce_the_baseline_cannot_divide_says_why():
    perfect = [row(arm, seed, NOISE, [1.0] * 5) for arm, seed in (("baseline", 0), ("baseline", 1), ("rdrop", 0))]
    report = "\n".join(report_lines(perfect))
    assert table(report, "| arm |")["rdrop"][-1] == "-"
    assert "mCE -: the baseline made no error on fog at any severity (0 divides)" in report
    assert "mCE -" not in "\n".join(report_lines(ROWS))
