"""SIGTERM (a pre-empted machine) stops training at a safe point on both engines: one line names the
last whole checkpoint and the override that resumes, no traceback; the resume finishes the run."""

import re
import signal
import subprocess
import time

import pytest

from engine_runs import ENGINES, engine_param, overrides, run_tool, tool_command, tool_environment


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_sigterm_stops_at_a_safe_point_and_names_the_checkpoint_that_resumes(engine, workdir):
    extra = overrides(workdir, f"stopped_{engine}", epochs=3) + ["Global.print_batch_step=1"]
    process = subprocess.Popen(
        tool_command("train.py", "rdrop_se_resnet.yaml", extra),
        cwd=workdir,
        env=tool_environment(ENGINES[engine]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines, deadline = [], time.time() + 300
    for line in process.stdout:  # epoch 1 is trained and saved once epoch 2 logs its first step
        lines.append(line)
        if "[Train][Epoch 2/3][Iter: 0/" in line or time.time() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    output = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=120) == 128 + signal.SIGTERM, output[-3000:]
    latest = f"{workdir}/stopped_{engine}/latest"
    stopped = [line for line in output.splitlines() if line.startswith("stopped by SIGTERM")]
    assert len(stopped) == 1 and re.search(
        rf"at epoch 2, step \d+, before the step was applied; the last checkpoint is {latest} \(epoch 1\): "
        rf"resume with -o Global.checkpoints={latest}$",
        stopped[0],
    ), stopped
    assert "Traceback" not in output
    resumed = run_tool(
        "train.py", "rdrop_se_resnet.yaml", extra + [f"Global.checkpoints={latest}"], cwd=workdir, env=ENGINES[engine]
    )
    log = resumed.stdout + resumed.stderr
    assert "[Train][Epoch 2/3]" in log and "[Train][Epoch 3/3]" in log and "[Train][Epoch 1/3]" not in log
