"""Several trainings in one Python process (`cli.run` calls, as a notebook makes them) name their tensors as
a fresh process does: an optimizer's accumulators (`conv2d_0.w_0_velocity_0`) are the same in a checkpoint
of a process's second training and in a resume after other trainings, so either resumes."""

import json
import os
import subprocess
import sys

import pytest

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, run_tool, tool_environment

TRAININGS = r"""
import json, sys
from paddleclas_rdrop.tools.cli import run
for argv in json.loads(sys.argv[1]):
    run("train", argv)
"""


def argv(keys):
    return ["-c", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")] + [
        arg for key in keys for arg in ("-o", key)
    ]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_checkpoints_of_one_process_trainings_resume_in_it_and_in_a_fresh_one(engine, workdir):
    first, second = (
        overrides(workdir, f"{name}_{engine}", epochs=2, every_epoch=True) + TINY for name in ("first", "second")
    )

    def resume(name):
        checkpoint = workdir / name / "epoch_1"
        return overrides(workdir, f"{name}_resumed", epochs=2) + TINY + [f"Global.checkpoints={checkpoint}"]

    # one process: two trainings, then a resume of the first's checkpoint (its optimizer the process's third)
    command = [
        sys.executable,
        "-c",
        TRAININGS,
        json.dumps([argv(first), argv(second), argv(resume(f"first_{engine}"))]),
    ]
    result = subprocess.run(
        command, cwd=workdir, env=tool_environment(ENGINES[engine]), capture_output=True, text=True, timeout=600
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in log, log[-3000:]
    assert "[Epoch 2/2]" in log
    # a fresh process: a resume of the process's second training
    resumed = run_tool("train.py", "rdrop_se_resnet.yaml", resume(f"second_{engine}"), cwd=workdir, env=ENGINES[engine])
    assert "[Epoch 2/2]" in resumed.stdout + resumed.stderr
