"""Two processes under `paddle.distributed.launch` on the CPU stop together when one of them stops: the
launcher exits non-zero within seconds, rank 0's log (the one the launcher prints) ends with one line naming
rank 1 and its reason, and no rank ends in gloo's crash dump. Two launchers on this machine, a node each,
train, save and resume."""

import os
import signal
import subprocess
import time

import pytest

from engine_runs import ENGINES, TINY, engine_param, overrides, tool_command, tool_environment

DEADLINE = 300  # s for a whole run; each stop below takes a few seconds once the fault is met


def launch(workdir, name, engine, extra=()):
    keys = (
        overrides(workdir, name, epochs=3)
        + TINY
        + [
            "Global.print_batch_step=1",
            "Global.log_ranks=0,1",
            "DataLoader.Train.sampler.batch_size=8",
            "DataLoader.Train.sampler.shuffle=False",
            *extra,
        ]
    )
    command = tool_command("train.py", "rdrop_se_resnet.yaml", keys, launch_processes=2)
    log_dir = workdir / name / "launch_log"
    command[command.index("launch_log")] = str(log_dir)
    out = open(workdir / f"{name}.out", "w")
    process = subprocess.Popen(
        command, cwd=workdir, env=tool_environment(ENGINES[engine]), stdout=out, stderr=subprocess.STDOUT
    )
    return process, log_dir


def rank_pid(rank, log_dir):
    """The pid of the process of `rank` of the launch writing to `log_dir`."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"PADDLE_TRAINER_ID={rank}".encode() in environ and f"PADDLE_LOG_DIR={log_dir}".encode() in environ:
            return int(pid)
    return None


def wait_for(predicate, deadline):
    while time.time() < deadline and not predicate():
        time.sleep(0.1)


def assert_stopped_together(process, log_dir, workdir, name, reason, stopper=1):
    """The launch ended non-zero; the other rank's log has one line naming rank `stopper` and `reason`, the
    stopper's own log its line; the launcher printed rank 0's; no crash dump in either."""
    code = process.wait(timeout=DEADLINE)
    logs = {rank: (log_dir / f"workerlog.{rank}").read_text(errors="replace") for rank in (0, 1)}
    printed = (workdir / f"{name}.out").read_text(errors="replace")
    assert code != 0, printed[-3000:]
    other = logs[1 - stopper]
    lines = [line for line in other.splitlines() if line.startswith(f"error: rank {stopper} stopped the run: ")]
    assert len(lines) == 1 and reason in lines[0], other[-3000:]
    assert reason in logs[stopper].splitlines()[-1] or any(reason in line for line in logs[stopper].splitlines()[-5:])
    shown = lines[0] if stopper == 1 else logs[0].strip().splitlines()[-1]
    assert shown in printed  # the launcher shows rank 0's log
    for log in logs.values():
        assert "C++ Traceback" not in log and "TimeoutException" not in log, log[-3000:]


def test_an_image_that_does_not_decode_on_one_rank_stops_both(workdir):
    """Standalone engine: the last image of the list (rank 1's shard) is cut after its PNG header."""
    import shutil

    root = workdir / "cut_last"
    shutil.copytree(workdir / "digits", root)
    last = (root / "train_list.txt").read_text().splitlines()[-1].split()[0]
    (root / last).write_bytes((root / last).read_bytes()[:60])
    data = [
        f"DataLoader.Train.dataset.image_root={root}",
        f"DataLoader.Train.dataset.cls_label_path={root}/train_list.txt",
    ]
    started = time.time()
    process, log_dir = launch(workdir, "ranks_image", "standalone", data)
    assert_stopped_together(process, log_dir, workdir, "ranks_image", f"image {root}/{last} cannot be read")
    assert time.time() - started < 120


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_signal_to_one_rank_stops_both(engine, workdir, stopper=1):
    name = f"ranks_signal_{engine}_{stopper}"
    process, log_dir = launch(workdir, name, engine)
    deadline = time.time() + DEADLINE
    log = log_dir / f"workerlog.{stopper}"
    wait_for(lambda: log.exists() and "[Train][Epoch 1/" in log.read_text(errors="replace"), deadline)
    pid = rank_pid(stopper, log_dir)
    assert pid, f"rank {stopper} not found"
    os.kill(pid, signal.SIGTERM)
    signalled = time.time()
    assert_stopped_together(process, log_dir, workdir, name, "stopped by SIGTERM", stopper)
    assert time.time() - signalled < 60


def test_a_signal_to_rank_0_stops_both(workdir):
    test_a_signal_to_one_rank_stops_both("standalone", workdir, stopper=0)


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def two_nodes(workdir, name, engine, tag, extra=()):
    """Two launchers on this machine, a node each (`--nnodes 2`, the master on 127.0.0.1), one process a
    node; both exit codes and rank 0's log."""
    import sys

    master, processes = f"127.0.0.1:{free_port()}", []
    keys = overrides(workdir, name, epochs=3, every_epoch=True) + TINY + ["Global.print_batch_step=1", *extra]
    for node in (0, 1):
        command = tool_command("train.py", "rdrop_se_resnet.yaml", keys)
        launcher = [sys.executable, "-m", "paddle.distributed.launch", "--nnodes", "2", "--master", master]
        launcher += ["--rank", str(node), "--nproc_per_node", "1", "--log_dir", str(workdir / f"{name}_{tag}{node}")]
        out = open(workdir / f"{name}_{tag}{node}.out", "w")
        processes.append(
            subprocess.Popen(
                launcher + command[1:], cwd=workdir, env=tool_environment(ENGINES[engine]), stdout=out, stderr=out
            )
        )
    codes = [process.wait(timeout=DEADLINE) for process in processes]
    return codes, (workdir / f"{name}_{tag}0.out").read_text(errors="replace")


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_two_nodes_on_one_machine_train_save_and_resume(engine, workdir):
    import paddle

    name = f"nodes_{engine}"
    codes, log = two_nodes(workdir, name, engine, "train")
    assert codes == [0, 0], log[-3000:]
    assert "[Train][Epoch 3/3]" in log and paddle.load(str(workdir / name / "latest.pdstates"))["epoch"] == 3
    codes, log = two_nodes(workdir, name, engine, "resume", [f"Global.checkpoints={workdir / name}/epoch_2"])
    assert codes == [0, 0], log[-3000:]
    assert "[Train][Epoch 3/3]" in log and "[Train][Epoch 1/3]" not in log and "[Train][Epoch 2/3]" not in log
    assert paddle.load(str(workdir / name / "latest.pdstates"))["epoch"] == 3
