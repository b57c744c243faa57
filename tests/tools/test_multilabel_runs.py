"""PaddleClas's multi-label quick-start config (MobileNetV1_multilabel.yaml) with R-Drop, trained by the plugin's
`tools/train.py` on the standalone engine (no PaddleClas source tree in the tools' environment) on digits at
32 px with five attributes as labels: the log names the Bernoulli KL and an RDropLoss > 0 at every step, the
best model is kept on AccuracyScore; the export ends in a sigmoid (its scores are the sigmoids of the trained
network's logits) and `tools/predict.py` prints every label's score in [0, 1]."""

import os
import re
import shutil

import numpy as np
import paddle
import pytest
import yaml
from test_multilabel import quick_start_config

import forks
from engine_runs import (
    ENGINES,
    assert_refused,
    infer_batch,
    refusals,
    run_tool,
    step_losses,
    tool_command,
    tool_environment,
    write_multilabel_digits,
)

ROOT = os.environ.get("PADDLECLAS_ROOT")
pytestmark = pytest.mark.skipif(
    not ROOT,
    reason="PADDLECLAS_ROOT is unset: the quick-start multi-label config is PaddleClas's "
    "(ppcls/configs/quick_start/professional/MobileNetV1_multilabel.yaml), which only its source tree has; "
    "the tools themselves run without it",
)
STANDALONE = ENGINES["standalone"]  # PADDLECLAS_ROOT empty in the tools' environment


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(folder, config path, val images, the training log) of one epoch of the quick-start config on the
    multi-label digits; the folder is removed at the end."""
    folder = tmp_path_factory.mktemp("multilabel_runs")
    val_images = write_multilabel_digits(folder)
    config_path = quick_start_config(folder)
    with open(config_path) as handle:
        config = yaml.safe_load(handle)
    config["Optimizer"]["lr"]["learning_rate"] = 0.01  # the recipe's 0.1 is for batches of 64
    config["Infer"].update(infer_imgs=val_images[0], transforms=[
        op if not ({"ResizeImage", "CropImage"} & set(op)) else {"ResizeImage": {"resize_short": 36}}
        if "ResizeImage" in op else {"CropImage": {"size": 32}} for op in config["Infer"]["transforms"]
    ])  # fmt: skip
    config["Infer"]["PostProcess"]["class_id_map_file"] = str(folder / "label_list.txt")
    with open(config_path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    result = run_tool("train.py", config_path, [], cwd=folder, env=STANDALONE)
    yield folder, config_path, val_images, result.stdout + result.stderr
    shutil.rmtree(folder, ignore_errors=True)


def test_the_standalone_engine_trains_it_with_the_bernoulli_kl(run):
    folder, _, _, log = run
    assert log.startswith("paddleclas-rdrop: standalone engine"), log[:300]
    assert "R-Drop KL: bernoulli" in log
    kls = step_losses(log, "RDropLoss")
    assert len(kls) == 4 and all(kl > 0 for kl in kls)  # 32 images in batches of 8
    assert all(np.isfinite(step_losses(log, "MultiLabelLoss")))
    average = re.search(r"\[Eval\]\[Epoch 1\]\[Avg\].*AccuracyScore: ([\d.]+), HammingDistance: ([\d.]+)", log)
    accuracy, hamming = float(average.group(1)), float(average.group(2))
    assert accuracy + hamming == pytest.approx(1, abs=2e-5)  # AccuracyScore's base is label: 1 - Hamming
    best = float(re.search(r"\[best metric: ([\d.]+)\]", log).group(1))
    assert best == pytest.approx(accuracy, abs=1e-5)  # kept on the first metric, as PaddleClas's Engine
    assert (folder / "out" / "best_model.pdparams").exists()


def eager_sigmoids(config_path, params, image_paths):
    """The sigmoids ``[N, 5]`` of the stock network of `config_path` with the weights `params` (eval mode) on
    `image_paths` through the Infer transforms."""
    from paddleclas.ppcls.utils import config as ppcls_config

    from paddleclas_rdrop.tools.standalone.engine import build_standalone_model

    config = ppcls_config.get_config(config_path, show=False)
    model = build_standalone_model(config, "eval")
    model.set_state_dict(paddle.load(params))
    model.eval()
    return paddle.nn.functional.sigmoid(model(infer_batch(config, image_paths))).numpy()


def per_label_scores(line):
    """The scores of `tools/predict.py`'s multi-label line."""
    return [float(score) for score in re.findall(r"\d+: ([\d.]+)", line.split("; scores ")[1].split(";")[0])]


def test_the_export_ends_in_a_sigmoid_and_predict_prints_every_labels_score(run):
    folder, config_path, val_images, _ = run
    params = folder / "out" / "best_model"
    run_tool("export_model.py", config_path, [f"Global.pretrained_model={params}"], cwd=folder, env=STANDALONE)
    one = run_tool("predict.py", config_path, [], cwd=folder, env=STANDALONE).stdout
    (line,) = [line for line in one.splitlines() if line.startswith(val_images[0])]
    scores = per_label_scores(line)
    assert len(scores) == 5 and all(0 <= score <= 1 for score in scores), line
    expected = eager_sigmoids(config_path, f"{params}.pdparams", val_images)
    np.testing.assert_allclose(scores, expected[0], atol=6e-4)  # printed to 3 decimals
    command = tool_command("predict.py", config_path, []) + ["--eval-list"]
    result = forks.run(command, cwd=folder, env=tool_environment(STANDALONE), timeout=600)
    every = result.stdout
    assert result.returncode == 0, (every + result.stderr)[-3000:]
    lines = [line for line in every.splitlines() if "; scores " in line]
    assert len(lines) == len(val_images) and all("; true labels " in line for line in lines)
    np.testing.assert_allclose([per_label_scores(line) for line in lines], expected, atol=6e-4)
    assert re.search(r"label accuracy: [\d.]+ % \(\d+ of 80 targets of 0 or 1 matched\)", every), every[-500:]


def test_tools_infer_prints_the_labels_multilabel_thresh_output_keeps(run):
    folder, config_path, val_images, _ = run
    best = f"Global.pretrained_model={folder / 'out' / 'best_model'}"
    log = run_tool("infer.py", config_path, [best], cwd=folder, env=STANDALONE).stdout
    (line,) = [line for line in log.splitlines() if "'file_name'" in line]
    assert "'class_ids'" in line and "'label_names'" in line and val_images[0] in line


REFUSED = [
    (["Global.use_multilabel=False"], "DataLoader.Train.dataset.name: MultiLabelDataset needs Global.use_multilabel"),
    (["Loss.Train.0.MultiLabelLoss.weight_ratio=True"], "set DataLoader.Train.dataset.label_ratio: True"),
    (["DataLoader.Eval.dataset.cls_label_path={folder}/train.txt"], "Metric.Eval.0.AccuracyScore: "),
    (["Arch.class_num=4"], "has 5 targets per line but Arch.class_num is 4"),
]


def test_what_a_multilabel_list_cannot_feed_is_one_line_before_anything_is_written(run):
    folder, config_path, _, _ = run
    output = folder / "refused"
    cases = [[key.format(folder=folder) for key in keys] + [f"Global.output_dir={output}"] for keys, _ in REFUSED]
    for error, (_, message) in zip(refusals("train", config_path, cases, cwd=folder, env=STANDALONE), REFUSED):
        assert_refused(error, message, output)
