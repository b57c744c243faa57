"""The plugin inside PaddleClas's own Engine: needs a PaddleClas source tree in $PADDLECLAS_ROOT."""

import hashlib
import os

import numpy as np
import paddle
import pytest
from conftest import delete_weights

from engine_runs import (
    CONFIGS,
    NEEDS_TREE,
    PROJECT,
    TINY,
    assert_export_matches_eager,
    assert_quiet,
    overrides,
    run_tool,
    step_losses,
)
from models import build

ROOT = os.environ.get("PADDLECLAS_ROOT")
needs_tree = pytest.mark.skipif(not ROOT, reason=NEEDS_TREE)


@pytest.fixture(scope="module")
def trained(workdir):
    """One R-Drop epoch of each project config: {config name: (its log, the names in its latest.pdparams)};
    only res2net's weights stay, for the later tests."""
    logs = {}
    for name in CONFIGS:
        # a new interpreter: its log is checked for start-up noise (assert_quiet)
        result = run_tool("train.py", f"rdrop_{name}.yaml", overrides(workdir, name), cwd=workdir, fresh=True)
        logs[name] = result.stdout + result.stderr, sorted(paddle.load(str(workdir / name / "latest.pdparams")))
        if name != "res2net":
            delete_weights(workdir / name)
    return logs


def test_a_wrong_paddleclas_root_is_one_clear_error(tmp_path):
    result = run_tool(
        "train.py", "rdrop_res2net.yaml", [], cwd=tmp_path, check=False, env={"PADDLECLAS_ROOT": str(tmp_path)}
    )
    assert result.returncode != 0
    assert f"error: PADDLECLAS_ROOT={tmp_path} is not a PaddleClas source tree" in result.stderr
    assert "Traceback" not in result.stderr


@needs_tree
def test_register_is_idempotent_and_changes_no_paddleclas_file():
    from paddleclas_rdrop import RDropLoss
    from paddleclas_rdrop.adapter.registry import register, train_epoch_rdrop

    files = [
        os.path.join(ROOT, "ppcls", "loss", "__init__.py"),
        os.path.join(ROOT, "ppcls", "engine", "train", "__init__.py"),
    ]
    before = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
    assert register() and register()
    import ppcls.engine.train
    import ppcls.loss

    assert ppcls.loss.RDropLoss is RDropLoss
    assert ppcls.engine.train.train_epoch_rdrop is train_epoch_rdrop
    assert [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files] == before


@needs_tree
@pytest.mark.parametrize("name", CONFIGS)
def test_one_rdrop_epoch_logs_ce_and_a_positive_kl_and_writes_stock_checkpoints(name, trained):
    log, params = trained[name]
    assert_quiet(log)
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl), log[-2000:]
    assert step_losses(log, "CELoss") and step_losses(log, "loss")
    assert "ips: " in log and "samples/s" in log
    stock = build(CONFIGS[name])
    assert params == sorted(stock.state_dict())


@needs_tree
def test_eval_export_and_predict_through_the_tools_and_paddleclas_own(trained, workdir):
    ours = overrides(workdir, "res2net") + [f"Global.pretrained_model={workdir}/res2net/latest"]
    evaluated = run_tool("eval.py", "rdrop_res2net.yaml", ours, cwd=workdir)
    assert "[Eval][Avg]" in evaluated.stdout + evaluated.stderr  # eval.py evaluates no epoch: no "[Epoch 0]"
    run_tool("export_model.py", "rdrop_res2net.yaml", ours, cwd=workdir)
    for name in ("inference.json", "inference.pdiparams", "inference.yml"):  # the deploy config too
        assert (workdir / "res2net" / "inference" / name).exists(), name

    # PaddleClas's own tools, with the baseline twin config, read the R-Drop checkpoint
    stock_export = str(workdir / "stock_export")
    stock = ours + [f"Global.save_inference_dir={stock_export}"]
    for tool in ("eval.py", "export_model.py"):
        run_tool(tool, "baseline_res2net.yaml", stock, cwd=ROOT, tools_root=ROOT)
    assert os.path.exists(os.path.join(stock_export, "inference.json"))

    # the export predicts in PaddleClas's deploy predictor as the eager model does in eval mode
    paths = [str(workdir / "digits" / "images" / f"{i:05d}.png") for i in range(6)]
    expected = assert_export_matches_eager(
        os.path.join(PROJECT, "configs", "rdrop_res2net.yaml"),
        ours,
        stock_export,
        str(workdir / "res2net" / "latest.pdparams"),
        "Res2Net50_vd_26w_4s",
        paths,
    )
    results = run_tool(
        "predict.py", "rdrop_res2net.yaml", ours + [f"Global.save_inference_dir={stock_export}"], cwd=workdir
    ).stdout
    assert f"00001.png: {int(expected[1].argmax())} " in results  # Infer.infer_imgs: the first val image


@needs_tree
def test_a_gpu_config_on_a_cpu_build_says_to_add_device_cpu(workdir):
    if paddle.is_compiled_with_cuda():
        pytest.skip("this Paddle build has CUDA")
    result = run_tool("train.py", "rdrop_res2net.yaml", [], cwd=workdir, check=False)
    assert result.returncode != 0
    assert "add -o Global.device=cpu" in result.stderr and "Traceback" not in result.stderr


@needs_tree
def test_a_fractional_warm_up_is_one_line_naming_the_whole_epochs_paddleclas_takes(workdir):
    extra = overrides(workdir, "fraction") + ["Optimizer.lr.warmup_epoch=0.5"]
    result = run_tool("train.py", "rdrop_res2net.yaml", extra, cwd=workdir, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert errors == [
        "error: Optimizer.lr.warmup_epoch is 0.5, but PaddleClas's Engine takes whole epochs: set "
        "-o Optimizer.lr.warmup_epoch=1, or run the standalone engine (no PADDLECLAS_ROOT), which takes fractions"
    ]
    assert not (workdir / "fraction").exists()


@needs_tree
def test_the_baseline_twin_trains_one_pass_and_a_broken_image_is_named_with_its_line(workdir):
    """One run for two checks: the baseline twin
    trains one pass with the head dropout; and an image whose header reads but whose data is cut gets
    past the start-up check, and PaddleClas's log of it names its list file and line."""
    digits = workdir / "digits"
    (digits / "images" / "cut.png").write_bytes((digits / "images" / "00000.png").read_bytes()[:60])
    lines = (digits / "train_list.txt").read_text().splitlines()
    cut_list = digits / "train_list_cut.txt"
    cut_list.write_text("\n".join(lines[:5] + ["images/cut.png 0"] + lines[5:]) + "\n")
    extra = overrides(workdir, "baseline") + TINY + [f"DataLoader.Train.dataset.cls_label_path={cut_list}"]
    result = run_tool("train.py", "baseline_res2net.yaml", extra, cwd=workdir)
    log = result.stdout + result.stderr
    assert step_losses(log, "CELoss") and "RDropLoss" not in log.split("[Train]", 1)[1]
    assert f"{cut_list}:6: Exception occured when parse line: {digits}/images/cut.png" in log, log[-3000:]


# EMA, gradient accumulation and AMP, which PaddleClas's loop runs around the hook's stand-ins
STAND_INS = ["EMA.decay=0.9", "Global.update_freq=2", "AMP.use_amp=True", "AMP.level=O1"]


@needs_tree
def test_per_pass_views_run_with_ema_gradient_accumulation_and_amp(workdir):
    """The same stand-ins with a view per pass: the batch holds k views, the loop is PaddleClas's own."""
    views = ["RDrop.augment_per_pass=True", "DataLoader.Train.dataset.batch_transform_ops=None"]
    ours = overrides(workdir, "ema_views", epochs=1) + TINY + STAND_INS + views
    result = run_tool("train.py", "rdrop_res2net.yaml", ours, cwd=workdir)
    log = result.stdout + result.stderr
    assert all(value > 0 for value in step_losses(log, "RDropLoss")) and "best metric ema" in log


@needs_tree
def test_ema_gradient_accumulation_and_amp_run_through_the_hook(workdir):
    """PaddleClas's own loop does them; the hook's stand-ins must let it (AMP only runs on CPU)."""
    ours = overrides(workdir, "ema", epochs=1) + TINY + STAND_INS
    result = run_tool("train.py", "rdrop_res2net.yaml", ours, cwd=workdir)
    log = result.stdout + result.stderr
    assert step_losses(log, "RDropLoss") and "best metric ema" in log
    ema = paddle.load(str(workdir / "ema" / "latest.pdparams"))  # the EMA weights
    raw = paddle.load(str(workdir / "ema" / "latest.pdema"))  # the trained weights
    assert any(not np.allclose(ema[k].numpy(), raw[k].numpy()) for k in raw if k.endswith(".weight"))


@needs_tree
def test_checkpoints_load_in_either_engine_and_evaluate_alike(workdir):
    """PaddleClas's engine and the standalone engine read each other's checkpoints."""
    import re

    checkpoints = []
    for name, env in (("ppcls_run", None), ("standalone_run", {"PADDLECLAS_ROOT": ""})):
        run_tool("train.py", "rdrop_res2net.yaml", overrides(workdir, name) + TINY, cwd=workdir, env=env)
        checkpoints.append([f"Global.pretrained_model={workdir}/{name}/latest"])

    def eval_line(checkpoint, env):
        keys = overrides(workdir, "evaluated") + TINY + checkpoint
        out = run_tool("eval.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=env).stdout
        numbers = re.search(r"\[Eval\]\[Avg\]CELoss: ([\d.]+), loss: [\d.]+, top1: ([\d.]+)", out)
        return float(numbers.group(1)), float(numbers.group(2))

    for checkpoint in checkpoints:
        ppcls_eval = eval_line(checkpoint, None)
        standalone_eval = eval_line(checkpoint, {"PADDLECLAS_ROOT": ""})
        np.testing.assert_allclose(standalone_eval, ppcls_eval, atol=2e-4)


@needs_tree
def test_resume_reproduces_the_uninterrupted_run_in_paddleclas_engine(workdir):
    def seeded(name, extra=()):
        return (
            overrides(workdir, name, epochs=2, every_epoch=True)
            + TINY
            + [
                "Global.seed=7",
                "Global.print_batch_step=1",
                *extra,
            ]
        )

    whole = run_tool("train.py", "rdrop_res2net.yaml", seeded("whole"), cwd=workdir).stdout
    resumed = run_tool(
        "train.py",
        "rdrop_res2net.yaml",
        seeded("resumed", [f"Global.checkpoints={workdir}/whole/epoch_1"]),
        cwd=workdir,
    ).stdout
    epoch_2 = "[Train][Epoch 2/2]" + whole.split("[Train][Epoch 2/2]", 1)[1]
    for term in ("CELoss", "RDropLoss"):
        assert step_losses(resumed, term) == step_losses(epoch_2, term) != []
    a = paddle.load(str(workdir / "whole" / "latest.pdparams"))
    b = paddle.load(str(workdir / "resumed" / "latest.pdparams"))
    for key in a:
        np.testing.assert_array_equal(b[key].numpy(), a[key].numpy(), err_msg=key)


@needs_tree
def test_register_refuses_to_replace_another_object_of_the_same_name():
    import ppcls.loss

    from paddleclas_rdrop.adapter.registry import register
    from paddleclas_rdrop.core.errors import ConfigError

    register()
    ours = ppcls.loss.RDropLoss
    ppcls.loss.RDropLoss = type("RDropLoss", (), {})  # another package's loss of that name
    try:
        with pytest.raises(ConfigError, match="ppcls.loss.RDropLoss is already .*not paddleclas-rdrop's"):
            register()
    finally:
        ppcls.loss.RDropLoss = ours
    assert register()


@needs_tree
def test_infer_takes_any_extension_case_and_names_what_it_skips(trained, workdir):
    folder = workdir / "to_infer"
    folder.mkdir()
    (folder / "B.PNG").write_bytes((workdir / "digits" / "images" / "00000.png").read_bytes())
    (folder / "notes.txt").write_text("not an image")
    extra = overrides(workdir, "res2net") + [
        f"Global.pretrained_model={workdir}/res2net/latest",
        f"Infer.infer_imgs={folder}",
    ]
    result = run_tool("infer.py", "rdrop_res2net.yaml", extra, cwd=workdir)
    log = result.stdout + result.stderr
    assert "B.PNG" in log and "'class_ids': [" in log
    assert f"skipped {folder / 'notes.txt'}: not an image file (jpg, jpeg, png, bmp)" in log
