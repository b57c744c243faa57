"""PaddleClas's OWN tools (run from its source tree, which never imports the plugin) run the plugin's
configs: the installed `paddleclas_rdrop_autoload.pth` registers the plugin when `ppcls` loads."""

import json
import os
import subprocess
import sys

import pytest

from engine_runs import NEEDS_TREE, TINY, overrides, run_tool, step_losses

ROOT = os.environ.get("PADDLECLAS_ROOT")
needs_tree = pytest.mark.skipif(not ROOT, reason=NEEDS_TREE)
OFF = {"PADDLECLAS_RDROP_AUTOLOAD": "0"}


def paddleclas_tool(tool, config, extra, env=None, launch_processes=0, check=True, cwd=ROOT):
    """PaddleClas's `tools/<tool>` (from the root of its tree, by default), as a PaddleClas user runs it."""
    result = run_tool(
        tool,
        config,
        extra,
        cwd=cwd,
        env={"PADDLECLAS_ROOT": "", **(env or {})},
        tools_root=ROOT,
        launch_processes=launch_processes,
        check=check,
    )
    return result, result.stdout + result.stderr


def python_state(env=None):
    """What a plain interpreter has loaded after importing nothing of PaddleClas."""
    code = (
        "import sys, json; print(json.dumps({'modules': sorted(m for m in ('paddle', 'paddleclas_rdrop', "
        "'ppcls') if m in sys.modules), 'hook': any(type(f).__name__ == '_RegisterAfterEngineImport' "
        "for f in sys.meta_path)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        cwd="/",
    )
    return json.loads(out.stdout)


def test_a_process_that_never_imports_ppcls_imports_neither_paddle_nor_the_plugin():
    assert python_state() == {"modules": [], "hook": True}, "is the plugin pip-installed (pip install -e .)?"
    assert python_state(OFF) == {"modules": [], "hook": False}


@needs_tree
def test_paddleclas_own_train_eval_export_and_infer_run_the_rdrop_config(workdir):
    extra = overrides(workdir, "own") + TINY  # the recipe's network trains on PaddleClas's Engine in test_ppcls_engine
    _, log = paddleclas_tool("train.py", "rdrop_se_resnet.yaml", extra)
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl), log[-2000:]
    assert "[Train][Epoch 1][R-Drop] alpha x KL is" in log
    trained = extra + [f"Global.pretrained_model={workdir}/own/latest"]
    _, log = paddleclas_tool("eval.py", "rdrop_se_resnet.yaml", trained)
    assert "[Eval][Epoch 0][Avg]" in log
    paddleclas_tool("export_model.py", "rdrop_se_resnet.yaml", trained)
    assert (workdir / "own" / "inference" / "inference.json").exists()
    _, log = paddleclas_tool("infer.py", "rdrop_se_resnet.yaml", trained)
    assert "'class_ids': [" in log


@needs_tree
def test_paddleclas_own_train_runs_per_pass_views_with_a_warm_up(workdir):
    extra = (
        overrides(workdir, "own_views")
        + TINY
        + [
            "RDrop.augment_per_pass=True",
            "DataLoader.Train.dataset.batch_transform_ops=None",
            "RDrop.alpha_warmup_epochs=2",
        ]
    )
    _, log = paddleclas_tool("train.py", "rdrop_se_resnet.yaml", extra)
    kl = step_losses(log, "RDropLoss")
    assert kl and kl[0] == 0 and all(value > 0 for value in kl[1:]), log[-2000:]
    assert "(warm-up over 2 epochs); alpha x KL is" in log


@needs_tree
def test_paddleclas_own_train_under_launch_with_two_processes(workdir):
    extra = (
        overrides(workdir, "own_launch")
        + TINY
        + [
            "Global.eval_during_train=False",
            "Global.log_ranks=0,1",
            "RDrop.augment_per_pass=True",  # a view per pass, in each DataParallel worker
            "DataLoader.Train.dataset.batch_transform_ops=None",
        ]
    )
    paddleclas_tool("train.py", "rdrop_se_resnet.yaml", extra, launch_processes=2, cwd=workdir)  # logs there
    for rank in (0, 1):
        log = (workdir / "launch_log" / f"workerlog.{rank}").read_text()
        assert step_losses(log, "RDropLoss"), log[-2000:]


@needs_tree
def test_turned_off_paddleclas_own_train_does_not_know_the_rdrop_mode(workdir):
    result, log = paddleclas_tool("train.py", "rdrop_se_resnet.yaml", overrides(workdir, "off"), env=OFF, check=False)
    assert result.returncode != 0 and "train_epoch_rdrop" in log


@needs_tree
def test_a_wrong_rdrop_key_under_paddleclas_own_train_is_one_line(workdir):
    extra = overrides(workdir, "typo") + ["RDrop.passess=2"]
    result, log = paddleclas_tool("train.py", "rdrop_se_resnet.yaml", extra, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "RDrop.passess is not an R-Drop setting (did you mean `passes`?)" in errors[0]
