"""Training SIGKILLed while a checkpoint is being written (after a random number of saves), and with RDROP_KILLS
above 1 every other kill at a random moment, on both engines: every checkpoint left loads, and the same train
line again, then the resume its refusal names (or nothing, when the kill left no run), finishes the run.
RDROP_KILLS (default 1 per engine, the kill during a save) sets how many; docs/reliability.md reports a run with
more."""

import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import paddle
import pytest

from engine_runs import ENGINES, TINY, engine_param, overrides, tool_command, tool_environment

KILLS = int(os.environ.get("RDROP_KILLS", "1"))
EPOCHS = 4


def train(workdir, name, engine, extra=()):
    command = tool_command(
        "train.py",
        "rdrop_se_resnet.yaml",
        overrides(workdir, name, EPOCHS, every_epoch=True) + TINY + ["Global.print_batch_step=1", *extra],
    )
    log = open(workdir / f"{name}.out", "a")
    return subprocess.Popen(command, cwd=workdir, env=tool_environment(ENGINES[engine]), stdout=log, stderr=log)


def checkpoints_load(folder):
    """Every checkpoint file outside a partial save loads; returns how many there are."""
    files = [
        path
        for pattern in ("*.pdparams", "*.pdopt", "*.pdstates", "*/*.pdparams")
        for path in glob.glob(os.path.join(folder, pattern))
        if "/.partial-" not in path
    ]
    for path in files:
        paddle.load(path)
    return len(files)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_killed_at_random_moments_every_checkpoint_loads_and_latest_resumes(engine, workdir):
    rng, outcomes = random.Random(f"kills-{engine}"), []
    for kill in range(KILLS):
        name = f"killed_{engine}_{kill}"
        process = train(workdir, name, engine)
        if kill % 2:  # at a random moment of the training: 0-4 s after its first step (4 tiny epochs)
            deadline = time.time() + 300
            while process.poll() is None and "[Train][Epoch 1/" not in (workdir / f"{name}.out").read_text():
                if time.time() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 4.0))
        else:  # the moment a save has begun, skipping a random number of saves first
            skip, seen, deadline = rng.randrange(0, 2 * EPOCHS), set(), time.time() + 300
            while process.poll() is None and time.time() < deadline:
                partial = set(glob.glob(str(workdir / name / ".partial-*")))
                if partial - seen and len(seen) >= skip:
                    break
                seen |= partial
                time.sleep(0.02)
        during_save = bool(glob.glob(str(workdir / name / ".partial-*")))
        process.send_signal(signal.SIGKILL)
        process.wait()
        loaded = checkpoints_load(workdir / name) if (workdir / name).exists() else 0
        latest = workdir / name / "latest"
        resumed = train(workdir, name, engine)  # as a user would: the same line again, then what it says
        code = resumed.wait(timeout=600)
        refusal = re.search(r"resume with -o (Global\.checkpoints=\S+);", (workdir / f"{name}.out").read_text())
        if code and refusal:
            code = train(workdir, name, engine, [refusal.group(1)]).wait(timeout=600)
        elif code and "holds no whole checkpoint to resume from" in (workdir / f"{name}.out").read_text():
            shutil.rmtree(workdir / name)  # killed during the first save: start anew, as the refusal says
            code = train(workdir, name, engine).wait(timeout=600)
        log = (workdir / f"{name}.out").read_text()
        # killed after the last save: already complete (the refusal says so, or the resume it offers does)
        finished = code == 0 or "nothing is left to train" in log or "it has trained all" in log
        epoch = paddle.load(f"{latest}.pdstates")["epoch"] if (latest.parent / "latest.pdstates").exists() else 0
        outcomes.append(
            {
                "kill": kill,
                "during_save": during_save,
                "checkpoint_files_loaded": loaded,
                "resume_exit": code,
                "finished": finished,
                "latest_epoch": epoch,
            }
        )
        assert finished and epoch == EPOCHS, (outcomes[-1], log[-3000:])
    print(json.dumps({"engine": engine, "kills": outcomes}))
