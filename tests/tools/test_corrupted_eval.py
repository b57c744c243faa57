"""`tools/eval.py --corruptions` (`paddleclas_rdrop.tools.corrupted_eval`), its parts without a run: the values read
off the Calibration and LabelCalibration metrics after an evaluation against the same numbers computed
directly, the metric added to Metric.Eval, the refusals before anything is built, the printed lines, and a
signal while the copies are made. Its runs on both engines are those of tools/compare.py --corruptions
(tests/tools/compare/test_compare.py)."""

import os
import signal
import threading

import numpy as np
import paddle
import pytest

from paddleclas_rdrop.core.calibration import Calibration
from paddleclas_rdrop.core.errors import ConfigError, TrainingStopped
from paddleclas_rdrop.core.label_calibration import LabelCalibration, label_summary, mean_label_ece
from paddleclas_rdrop.tools.corrupted_eval import copies_of, prepare, report_lines, values_of

import forks
from engine_runs import ENGINES, NEEDS_TREE, PROJECT, tool_command, tool_environment, write_multilabel_digits


def test_the_values_are_the_calibration_metrics_own_over_the_whole_evaluation():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(2, 8, 4)).astype("float32"), rng.integers(0, 4, (2, 8, 1))
    metric = Calibration(bins=15)
    for batch_logits, batch_labels in zip(logits, labels):
        metric(paddle.to_tensor(batch_logits), paddle.to_tensor(batch_labels))
    flat, truth = logits.reshape(16, 4).astype(np.float64), labels.reshape(16)
    log_p = flat - np.log(np.exp(flat).sum(1, keepdims=True))
    found = values_of(metric)
    assert found["images"] == 16 and found["top1"] == pytest.approx((flat.argmax(1) == truth).mean())
    assert found["nll"] == pytest.approx(-log_p[np.arange(16), truth].mean(), abs=1e-6)
    assert found["ece"] == pytest.approx(metric.summary()["ECE"])


def test_the_multilabel_values_are_the_label_calibrations_own():
    rng = np.random.default_rng(1)
    logits, targets = rng.normal(size=(12, 3)).astype("float32"), rng.integers(0, 2, (12, 3))
    metric = LabelCalibration(bins=15)
    metric(paddle.to_tensor(logits), paddle.to_tensor(targets))
    found = values_of(metric)
    expected = label_summary(1 / (1 + np.exp(-logits.astype(np.float64))), targets)
    assert found["images"] == 12 and "top1" not in found
    assert found["map"] == pytest.approx(expected["map"]) and found["ma"] == pytest.approx(expected["ma"])
    assert found["ece"] == pytest.approx(mean_label_ece(expected["label_counts"]), abs=1e-6)


def config(tmp_path, dataset="ImageNetDataset", metrics=None, multilabel=False):
    eval_dataset = {"name": dataset, "image_root": str(tmp_path), "cls_label_path": str(tmp_path / "val.txt")}
    found = {"Global": {"output_dir": str(tmp_path / "out"), "use_multilabel": multilabel}}
    found["DataLoader"] = {"Eval": {"dataset": eval_dataset}}
    if metrics is not None:
        found["Metric"] = {"Eval": metrics}
    return found


def test_the_metric_is_added_where_missing_and_the_refusals_come_before_anything_is_built(tmp_path):
    given = config(tmp_path, metrics=[{"TopkAcc": {"topk": [1, 5]}}])
    prepare(given, "")
    assert given["Metric"]["Eval"] == [{"TopkAcc": {"topk": [1, 5]}}, {"Calibration": {"bins": 15}}]
    kept = config(tmp_path, metrics=[{"Calibration": {"bins": 10, "counts_file": "c.json"}}])
    prepare(kept, "")
    assert kept["Metric"]["Eval"] == [{"Calibration": {"bins": 10, "counts_file": "c.json"}}]
    multilabel = config(tmp_path, "MultiLabelDataset", multilabel=True)
    prepare(multilabel, "")
    assert multilabel["Metric"]["Eval"] == [{"LabelCalibration": {"bins": 15}}]

    with pytest.raises(ConfigError, match="DataLoader.Eval.dataset is 'ICartoonDataset'"):
        prepare(config(tmp_path, "ICartoonDataset"), "")
    with pytest.raises(ConfigError, match="--corruptions evaluates in one process"):
        prepare(config(tmp_path), "", processes=2)
    (tmp_path / "out" / "corruptions").mkdir(parents=True)
    (tmp_path / "out" / "corruptions" / "mine.png").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"--corruptions .*/out/corruptions holds mine.png, which is not a copy"):
        prepare(config(tmp_path), "")
    for name in ("corruptions.json", "eval_per_class.json"):  # a file eval.py writes there, given as FOLDER
        with pytest.raises(ConfigError, match=rf"{name} is named as a file in Global.output_dir"):
            prepare(config(tmp_path), str(tmp_path / "out" / name))


def test_the_printed_lines_give_each_severity_and_the_means():
    lists = {f"fog/{s}": {"top1": 1 - s / 10, "ece": 0.1} for s in range(1, 6)}
    lists.update({f"contrast/{s}": {"top1": 0.5, "ece": 0.3} for s in range(1, 6)})
    results = {"clean": {"top1": 0.95, "ece": 0.05}, "lists": lists, "left_out": {"frost": "ValueError: small"}}
    assert report_lines(results) == [
        "clean: top-1 95.00 %, ECE 5.00 %",
        "fog: top-1 at severity 1-5 90.00, 80.00, 70.00, 60.00, 50.00 %, mean 70.00 %",
        "contrast: top-1 at severity 1-5 50.00, 50.00, 50.00, 50.00, 50.00 %, mean 50.00 %",
        "frost: left out (ValueError: small)",
        "mean over 2 corruptions x 5 severities: top-1 60.00 %, ECE 20.00 %",
    ]


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_copies_are_made_stops_in_one_line_with_nothing_kept(tmp_path, signal_name):
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(60):  # seconds of copies to make: the signal comes while they are made
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / f"{index}.png")
    (tmp_path / "val.txt").write_text("".join(f"{index}.png {index % 3}\n" for index in range(60)))
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(1.0, os.kill, (os.getpid(), getattr(signal, signal_name)))
    timer.start()
    with pytest.raises(TrainingStopped) as stop:
        copies_of(config(tmp_path), str(tmp_path / "copies"), say=print)
    timer.join()
    assert stop.value.signal_name == signal_name
    assert stop.value.line.startswith(f"stopped by {signal_name} while making the corrupted copies of ")
    assert not [name for name in os.listdir(tmp_path) if name.startswith("copies")]  # none, not even partial
    assert {number: signal.getsignal(number) for number in handlers} == handlers  # the handlers put back


@pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_label_ratio_config_is_evaluated_on_its_copies(engine, tmp_path):
    """PULC's attribute configs give the eval dataset `label_ratio: True`: its batches' labels are ``[B, 2, L]``,
    which the copies' `LabelCalibration` reads at their targets on both engines."""
    import json
    import sys

    sys.path.insert(0, os.path.join(PROJECT, "tests", "adapter"))
    from test_multilabel import quick_start_config

    write_multilabel_digits(tmp_path, train=8, val=8)
    overrides = ["DataLoader.Eval.dataset.label_ratio=True", "Metric.Eval=[{'ATTRMetric': None}]"]
    command = tool_command("eval.py", quick_start_config(tmp_path), overrides) + ["--corruptions"]
    result = forks.run(command, cwd=tmp_path, env=tool_environment(ENGINES[engine]), timeout=600)
    assert result.returncode == 0 and "[corruptions] clean: mAP" in result.stdout, result.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "corruptions.json").read_text())
    assert 0 < results["clean"]["map"] <= 1 and results["clean"]["images"] == 8


def test_a_multilabel_list_where_no_image_has_a_label_is_refused_before_the_copies_are_made(tmp_path):
    """mAP, the copies' metric, is the mean over the labels with a positive: undefined on such a list."""
    import sys

    sys.path.insert(0, os.path.join(PROJECT, "tests", "adapter"))
    from test_multilabel import quick_start_config

    write_multilabel_digits(tmp_path, train=8, val=4)
    lines = (tmp_path / "val.txt").read_text().splitlines()
    (tmp_path / "val.txt").write_text("".join(f"{line.split(chr(9))[0]}\t0,0,0,0,0\n" for line in lines))
    command = tool_command("eval.py", quick_start_config(tmp_path), []) + ["--corruptions"]
    result = forks.run(command, cwd=tmp_path, env=tool_environment(ENGINES["standalone"]), timeout=600)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-3000:]
    assert "val.txt: no image has any of its labels (every target is 0 or -1)" in errors[0], errors
    assert not (tmp_path / "out" / "corruptions").exists()
