"""SIGINT (Ctrl-C) and SIGTERM (a pre-empted machine) stop training at a safe point, on both engines: one
line names the last whole checkpoint and the override that resumes, in the terminal and in train.log, with no
traceback, the data loader's workers signalled too; the resume finishes quietly, and says its expected run
time."""

import os
import re
import signal
import subprocess
import time

import paddle
import pytest

from paddleclas_rdrop.tools.runs.interrupts import ignore
from paddleclas_rdrop.tools.runs.signals import StopOnSignals

from engine_runs import ENGINES, TINY, engine_param, overrides, run_tool, tool_command, tool_environment


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_is_recorded_and_a_stopped_run_leaves_its_loaders_workers_to_end_with_it(stop):
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
    with StopOnSignals() as recorded:
        assert recorded.requested() is None
        os.kill(os.getpid(), stop)
        time.sleep(0.01)  # Python runs the handler between bytecodes of the main thread
        assert recorded.requested() == stop.name
    assert signal.getsignal(signal.SIGINT) is before[signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is before[signal.SIGTERM]
    assert signal.getsignal(signal.SIGCHLD) is ignore  # Paddle's would raise SystemError at exit
    signal.signal(signal.SIGCHLD, before[signal.SIGCHLD])


@pytest.mark.parametrize(
    "engine, stop", [engine_param("standalone", signal.SIGTERM), engine_param("paddleclas", signal.SIGINT)]
)
def test_a_signal_to_the_process_group_stops_at_a_safe_point_in_one_line_and_the_checkpoint_resumes(
    engine, stop, workdir
):
    """SIGINT as a terminal's Ctrl-C sends it; SIGTERM as a machine or container shutting down sends it, which
    ends the loader's workers at once (paddle's worker installs its own handler)."""
    workers = [f"DataLoader.{split}.loader.num_workers=2" for split in ("Train", "Eval")]
    extra = overrides(workdir, f"stopped_{engine}", epochs=3) + TINY + ["Global.print_batch_step=1"]
    extra += ["Optimizer.lr.warmup_epoch=1"]  # a LinearWarmup, whose resume Paddle warns about for nothing
    process = subprocess.Popen(
        tool_command("train.py", "rdrop_se_resnet.yaml", extra + workers),
        cwd=workdir,
        env=tool_environment(ENGINES[engine]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's process group: the tool and its loader's workers
    )
    lines, deadline = [], time.time() + 300
    for line in process.stdout:  # epoch 1 is trained and saved once epoch 2 logs its first step
        lines.append(line)
        if "[Train][Epoch 2/3][Iter: 0/" in line or time.time() > deadline:
            break
    os.killpg(process.pid, stop)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + stop, "".join(lines)[-2000:] + stdout[-1000:] + stderr[-3000:]
    latest = f"{workdir}/stopped_{engine}/latest"
    line = (
        rf"stopped by {stop.name} in epoch 2, after \d+ steps of this run, before the next step was applied; the last "
        rf"checkpoint is {latest} \(epoch 1\): resume with -o Global.checkpoints={latest}"
    )
    assert re.fullmatch(line, stderr.strip()), stderr[-3000:]  # the one line, no traceback, no SystemError
    assert "Traceback" not in stdout and "SystemError" not in stdout
    with open(f"{workdir}/stopped_{engine}/train.log", encoding="utf-8") as log:
        assert re.search(rf"ppcls INFO: {line}\n\Z", log.read())
    assert paddle.load(f"{latest}.pdstates")["epoch"] == 1
    resumed = run_tool(
        "train.py", "rdrop_se_resnet.yaml", extra + [f"Global.checkpoints={latest}"], cwd=workdir, env=ENGINES[engine]
    )
    log = resumed.stdout + resumed.stderr
    assert "[Train][Epoch 2/3]" in log and "[Train][Epoch 3/3]" in log and "[Train][Epoch 1/3]" not in log
    assert "unused values in state_dict" not in log
    # the expected run time, once in epoch 2 (from its steps but the first two) and once it has ended
    first = re.findall(r"\[Train\]\[Time\] expected run time .* 3 steps left at .*, measured over 1 step, ", log)
    assert len(first) == 1 and log.index(first[0]) < log.index("[Train][Epoch 2/3][Avg]")
    assert re.search(r"\[Train\]\[Time\] after epoch 2: .* 1 epoch left at .* as measured in epoch 2\)", log)


def test_only_a_loader_whose_workers_ended_after_a_stop_becomes_the_stop():
    from paddleclas_rdrop.core.errors import TrainingStopped
    from paddleclas_rdrop.tools.runs.guards import stopped_instead

    ended = SystemError("(Fatal) DataLoader process (pid 12) exited is killed by signal: Terminated.")
    with pytest.raises(TrainingStopped) as stopped:
        with stopped_instead(lambda: "SIGTERM", lambda: (2, 7)):
            raise ended
    assert (stopped.value.signal_name, stopped.value.epoch, stopped.value.step) == ("SIGTERM", 2, 7)
    assert stopped.value.__cause__ is ended
    others = [(None, ended), ("SIGTERM", RuntimeError("a bug in an evaluation")), ("SIGINT", KeyError(1))]
    for requested, error in others:
        with pytest.raises(type(error)):  # no stop, or an error of its own: it is not hidden
            with stopped_instead(lambda: requested, lambda: (2, 7)):
                raise error
