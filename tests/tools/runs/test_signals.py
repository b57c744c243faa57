"""SIGINT (Ctrl-C) and SIGTERM (a pre-empted machine) stop training at a safe point, on both engines: one
line names the last whole checkpoint and the override that resumes, no traceback; the resume finishes."""

import re
import signal
import subprocess
import time

import pytest

from engine_runs import ENGINES, NEEDS_TREE, TINY, overrides, run_tool, tool_command, tool_environment


@pytest.mark.parametrize(
    "engine, stop",
    [
        pytest.param("standalone", signal.SIGINT, id="standalone-SIGINT"),
        pytest.param(
            "paddleclas",
            signal.SIGTERM,
            id="paddleclas-SIGTERM",
            marks=pytest.mark.skipif(not ENGINES["paddleclas"]["PADDLECLAS_ROOT"], reason=NEEDS_TREE),
        ),
    ],
)
def test_a_signal_stops_at_a_safe_point_and_names_the_checkpoint_that_resumes(engine, stop, workdir):
    extra = overrides(workdir, f"stopped_{engine}", epochs=3) + TINY + ["Global.print_batch_step=1"]
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
    process.send_signal(stop)
    output = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=120) == 128 + stop, output[-3000:]
    latest = f"{workdir}/stopped_{engine}/latest"
    stopped = [line for line in output.splitlines() if line.startswith(f"stopped by {stop.name}")]
    assert len(stopped) == 1 and re.search(
        rf"in epoch 2, after \d+ steps of this run, before the next step was applied; the last checkpoint is "
        rf"{latest} \(epoch 1\): "
        rf"resume with -o Global.checkpoints={latest}$",
        stopped[0],
    ), stopped
    assert "Traceback" not in output
    resumed = run_tool(
        "train.py", "rdrop_se_resnet.yaml", extra + [f"Global.checkpoints={latest}"], cwd=workdir, env=ENGINES[engine]
    )
    log = resumed.stdout + resumed.stderr
    assert "[Train][Epoch 2/3]" in log and "[Train][Epoch 3/3]" in log and "[Train][Epoch 1/3]" not in log
