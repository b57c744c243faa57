"""PaddleClas's multi-label quick-start config with R-Drop's three entries trains on generated data through
PaddleClas's own `tools/train.py` and the plugin's, on PaddleClas's Engine; the RDropLoss it logs is the
per-label Bernoulli KL of the step's logits (targets of -1 not compared), checked against the float64
reference."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

import forks
from engine_runs import NEEDS_TREE, PROJECT, step_losses, tool_environment
from reference import bernoulli_symmetric_kl64

ROOT = os.environ.get("PADDLECLAS_ROOT")
pytestmark = pytest.mark.skipif(not ROOT, reason=NEEDS_TREE)
LABELS = 5

# PaddleClas's own tools/train.py, with every RDropLoss call's logits and targets written to $RECORD
RECORDING_TRAIN = """
import json, os, runpy, sys
from paddleclas_rdrop.core.loss import RDropLoss
forward, calls = RDropLoss.forward, []
def recorded(self, x, label=None):
    out = forward(self, x, label)
    calls.append({"logits": x.numpy().tolist(), "label": label.numpy().tolist(), "kl": float(out["RDropLoss"])})
    return out
RDropLoss.forward = recorded
sys.argv = [os.path.join(os.environ["PADDLECLAS_ROOT"], "tools", "train.py")] + sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    json.dump(calls, open(os.environ["RECORD"], "w"))
"""


def write_multilabel_data(folder, rng):
    """32 train and 16 val images at 40x40, `MultiLabelDataset` lists with LABELS targets, some train targets -1
    (PaddleClas's AccuracyScore, scikit-learn's, takes no -1: the config has no train metric)."""
    os.makedirs(folder / "imgs", exist_ok=True)
    for split, count in (("train", 32), ("val", 16)):
        lines = []
        for index in range(count):
            name = f"imgs/{split}{index}.png"
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / name)
            targets = rng.integers(0, 2, LABELS)
            if split == "train":
                targets[rng.random(LABELS) < 0.2] = -1
            lines.append(f"{name}\t{','.join(map(str, targets))}")
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


def quick_start_config(folder):
    """PaddleClas's quick-start multi-label config, shrunk to the data in `folder`, with R-Drop's entries."""
    path = os.path.join(ROOT, "ppcls", "configs", "quick_start", "professional", "MobileNetV1_multilabel.yaml")
    with open(path) as handle:
        config = yaml.safe_load(handle)
    config["Global"].update(
        train_mode="rdrop", device="cpu", epochs=1, print_batch_step=1, image_shape=[3, 32, 32],
        output_dir=str(folder / "out"), save_inference_dir=str(folder / "out" / "inference"),
    )  # fmt: skip
    config["RDrop"] = {"head_dropout": 0.1}
    config["Loss"]["Train"].append({"RDropLoss": {"weight": 1.0}})
    config["Arch"].update(class_num=LABELS, pretrained=False)
    config["Metric"].pop("Train")
    for split, name in (("Train", "train.txt"), ("Eval", "val.txt")):
        loader = config["DataLoader"][split]
        loader["dataset"].update(image_root=str(folder), cls_label_path=str(folder / name))
        loader["sampler"]["batch_size"] = 8
        loader["loader"]["num_workers"] = 0
        for op in loader["dataset"]["transform_ops"]:
            for crop in ("RandCropImage", "CropImage"):
                if crop in op:
                    op[crop]["size"] = 32
            if "ResizeImage" in op:
                op["ResizeImage"]["resize_short"] = 36
    written = folder / "multilabel_rdrop.yaml"
    written.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(written)


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multilabel")
    write_multilabel_data(folder, np.random.default_rng(0))
    return folder, quick_start_config(folder)


def test_paddleclas_own_train_logs_the_bernoulli_kl_of_each_steps_logits(multilabel):
    folder, config = multilabel
    record = folder / "calls.json"
    result = subprocess.run(
        [sys.executable, "-c", RECORDING_TRAIN, "-c", config],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=tool_environment({"RECORD": str(record)}),
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "R-Drop KL: bernoulli" in log
    calls = json.loads(record.read_text())
    assert len(calls) == 4  # 32 images in batches of 8
    expected = []
    for call in calls:
        logits, targets = np.asarray(call["logits"]), np.asarray(call["label"])
        first, second = np.split(logits, 2)
        ignored = np.split(targets, 2)[0] < 0
        assert ignored.any() and not ignored.all()
        expected.append(float(bernoulli_symmetric_kl64(first, second, pad_mask=ignored, reduction="batchmean")))
        assert call["kl"] == pytest.approx(expected[-1], rel=1e-4, abs=1e-6)
    running = np.cumsum(expected) / np.arange(1, len(expected) + 1)  # the log's values are running means
    assert step_losses(log, "RDropLoss") == pytest.approx(list(running), rel=1e-3, abs=1e-5)
    assert min(expected) > 0


def test_the_plugins_tools_train_it_on_paddleclas_engine(multilabel):
    folder, config = multilabel
    result = forks.run(
        [sys.executable, os.path.join(PROJECT, "tools", "train.py"), "-c", config,
         "-o", f"Global.output_dir={folder / 'plugin_out'}"],
        cwd=folder, env=tool_environment({"PADDLECLAS_ROOT": ROOT}), timeout=600,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "R-Drop KL: bernoulli" in log and all(value > 0 for value in step_losses(log, "RDropLoss"))
    assert (folder / "plugin_out" / "best_model.pdparams").exists()
