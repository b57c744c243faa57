"""Checkpoints are written whole or not at all: a failing save (a full disk, simulated) leaves the
checkpoints before it as they were, leaves no partial file, and says so in one error. With
`Global.keep_checkpoint_max`, only the newest epoch checkpoints stay."""

import errno
import hashlib
import os
import subprocess
import sys

import paddle
import pytest
from paddleclas.ppcls.utils import save_load

from paddleclas_rdrop.core.errors import ConfigError, SaveError
from paddleclas_rdrop.tools.runs.checkpoints import Checkpointer, keep_of

from engine_runs import ENGINES, PROJECT, TINY, digits_workdir, engine_param, overrides, run_tool, tool_environment


def digest(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): hashlib.sha256(
            open(os.path.join(root, name), "rb").read()
        ).hexdigest()
        for root, _, names in os.walk(folder)
        for name in names
    }


def model_and_optimizer():
    net = paddle.nn.Linear(4, 3)
    optimizer = paddle.optimizer.Momentum(0.1, parameters=net.parameters())
    net(paddle.ones([2, 4])).sum().backward()
    optimizer.step()
    return net, [optimizer]


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint_and_leaves_nothing_partial(tmp_path, monkeypatch):
    net, optimizers = model_and_optimizer()
    checkpoints = Checkpointer()
    save = checkpoints.make_whole(save_load.save_model)
    save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path), prefix="latest")
    save(net, optimizers, {"metric": 0.6, "epoch": 1}, str(tmp_path), prefix="best_model")
    checkpoints.wait()
    assert paddle.load(str(tmp_path / "latest.pdstates"))["epoch"] == 1
    assert (tmp_path / "best_model" / "model.pdparams").exists()  # PaddleClas's extra copy of the best
    before = digest(tmp_path)

    real_save = paddle.save

    def disk_full_at_the_optimizer(obj, path, *args, **kwargs):
        if path.endswith(".pdopt"):
            with open(path, "wb") as handle:
                handle.write(b"half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(paddle, "save", disk_full_at_the_optimizer)
    with pytest.raises(SaveError, match="could not be written \\(No space left on device\\); the checkpoints written"):
        save(net, optimizers, {"metric": 0.7, "epoch": 2}, str(tmp_path), prefix="latest")
    assert digest(tmp_path) == before  # nothing replaced, nothing partial left
    state = paddle.load(str(tmp_path / "latest.pdparams"))
    assert sorted(state) == sorted(net.state_dict())
    checkpoints.close()


def test_a_failed_save_names_the_newest_whole_checkpoint_on_disk_or_says_there_is_none(tmp_path, monkeypatch):
    net, optimizers = model_and_optimizer()
    checkpoints = Checkpointer()
    save = checkpoints.make_whole(save_load.save_model)
    real_save = paddle.save

    def disk_full_at_latest(obj, path, *args, **kwargs):
        if os.path.basename(path).startswith("latest."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(paddle, "save", disk_full_at_latest)
    with pytest.raises(SaveError, match=r"then run again: no whole checkpoint was written before it$"):
        save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path / "run"), prefix="latest")
    save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path / "run"), prefix="epoch_1")
    checkpoints.wait()
    with pytest.raises(SaveError) as raised:  # latest was never written: epoch_1 is the one to resume from
        save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path / "run"), prefix="latest")
    assert str(raised.value).endswith(f"then resume with -o Global.checkpoints={tmp_path / 'run' / 'epoch_1'}")
    checkpoints.close()


def test_a_flush_that_fails_behind_training_is_raised_at_the_next_wait_and_keeps_the_previous(tmp_path, monkeypatch):
    net, optimizers = model_and_optimizer()
    checkpoints = Checkpointer()
    save = checkpoints.make_whole(save_load.save_model)
    save(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path), prefix="latest")
    checkpoints.wait()
    before = digest(tmp_path)

    def disk_full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)  # the flush runs in the commit thread
    save(net, optimizers, {"metric": 0.7, "epoch": 2}, str(tmp_path), prefix="latest")  # returns: queued
    with pytest.raises(SaveError, match="could not be written \\(No space left on device\\)"):
        checkpoints.wait()
    assert digest(tmp_path) == before  # latest is epoch 1's, whole, and nothing partial is left
    checkpoints.wait()  # raised once
    checkpoints.close()  # nothing left to raise


def test_a_save_does_not_wait_for_the_flush_before_it_and_carries_the_best_it_queued(tmp_path, monkeypatch):
    import threading

    net, optimizers = model_and_optimizer()
    checkpoints = Checkpointer()
    save = checkpoints.make_whole(save_load.save_model)
    flushes = threading.Event()
    real_fsync = os.fsync

    def held_fsync(descriptor):  # the disk is slow: the commits wait until the test lets them go
        flushes.wait(timeout=30)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", held_fsync)
    save(net, optimizers, {"metric": 0.9, "epoch": 1}, str(tmp_path), prefix="best_model")
    save(net, optimizers, {"metric": 0.9, "epoch": 1}, str(tmp_path), prefix="latest")  # returns at once
    assert len(checkpoints.pending) == 2 and not checkpoints.pending[0].done()
    assert not (tmp_path / "best_model.pdstates").exists()  # best_model is still being flushed
    flushes.set()
    checkpoints.close()
    assert paddle.load(str(tmp_path / "latest.pdstates"))["best_metric"] == 0.9  # what a resume carries over
    assert paddle.load(str(tmp_path / "best_model.pdstates"))["metric"] == 0.9


def test_two_checkpointers_share_no_queued_best_metric_no_commits_and_no_thread(tmp_path, monkeypatch):
    import threading

    net, optimizers = model_and_optimizer()
    first, second = Checkpointer(), Checkpointer()
    flushes = threading.Event()
    real_fsync = os.fsync

    def held_fsync(descriptor):
        flushes.wait(timeout=30)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", held_fsync)
    save_first, save_second = first.make_whole(save_load.save_model), second.make_whole(save_load.save_model)
    save_first(net, optimizers, {"metric": 0.9, "epoch": 1}, str(tmp_path), prefix="best_model")
    save_second(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path / "b"), prefix="latest")
    assert len(first.pending) == 1 and len(second.pending) == 1 and not first.pending[0].done()
    save_second(net, optimizers, {"metric": 0.5, "epoch": 1}, str(tmp_path), prefix="latest")
    assert len(first.pending) == 1 and len(second.pending) == 2  # each its own futures
    flushes.set()
    second.close()
    first.close()
    # the second never saw the first's queued best_model: it read the folder while that was not yet on disk
    assert "best_metric" not in paddle.load(str(tmp_path / "latest.pdstates"))
    assert paddle.load(str(tmp_path / "best_model.pdstates"))["metric"] == 0.9
    with pytest.raises(RuntimeError):  # closed: a run's Checkpointer is not used after its run
        save_first(net, optimizers, {"metric": 0.1, "epoch": 2}, str(tmp_path), prefix="latest")


def test_a_checkpointer_records_the_schedule_and_the_best_it_queued_and_cleans_up_a_killed_runs_partial_save(tmp_path):
    net, optimizers = model_and_optimizer()
    stale = tmp_path / ".partial-999999999-x"  # a pid no process has
    stale.mkdir()
    (stale / "latest.pdparams").write_bytes(b"half a file")
    schedule = {"epochs": 3, "learning_rate": 0.1}
    with Checkpointer(str(tmp_path), schedule, None) as checkpoints:
        assert not stale.exists()
        save = checkpoints.make_whole(save_load.save_model)
        save(net, optimizers, {"metric": 0.7, "epoch": 1}, str(tmp_path), prefix="best_model")
        save(net, optimizers, {"metric": 0.7, "epoch": 1}, str(tmp_path), prefix="latest")
    state = paddle.load(str(tmp_path / "latest.pdstates"))  # whole on leaving the context
    assert state["schedule"] == schedule and state["best_metric"] == 0.7


def test_keep_checkpoint_max_deletes_the_older_epoch_checkpoints_once_a_new_one_is_whole(tmp_path):
    net, optimizers = model_and_optimizer()
    with Checkpointer(keep=2) as checkpoints:
        save = checkpoints.make_whole(save_load.save_model)
        for epoch in range(1, 5):
            save(net, optimizers, {"metric": 0.5, "epoch": epoch}, str(tmp_path), prefix=f"epoch_{epoch}")
            save(net, optimizers, {"metric": 0.5, "epoch": epoch}, str(tmp_path), prefix="latest")
        save(net, optimizers, {"metric": 0.9, "epoch": 1}, str(tmp_path), prefix="best_model")
    stems = {name.split(".")[0] for name in os.listdir(tmp_path) if name.endswith(".pdparams")}
    assert stems == {"epoch_3", "epoch_4", "latest", "best_model"}
    assert sorted(name for name in os.listdir(tmp_path) if name.startswith("epoch_4")) == [
        "epoch_4.pdopt",
        "epoch_4.pdparams",
        "epoch_4.pdstates",
    ]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_keep_checkpoint_max_on_both_engines(engine, tmp_path_factory):
    workdir = digits_workdir(tmp_path_factory, f"keep_{engine}")
    extra = overrides(workdir, "run", epochs=3, every_epoch=True) + TINY + ["Global.keep_checkpoint_max=1"]
    log = run_tool("train.py", "rdrop_res2net.yaml", extra, cwd=workdir, env=ENGINES[engine]).stdout
    files = sorted(name for name in os.listdir(workdir / "run") if name.startswith("epoch_"))
    assert files == ["epoch_3.pdopt", "epoch_3.pdparams", "epoch_3.pdstates"]
    assert f"removed {workdir / 'run' / 'epoch_2'}: Global.keep_checkpoint_max is 1" in log
    assert (workdir / "run" / "latest.pdparams").exists() and (workdir / "run" / "best_model.pdparams").exists()


def test_keep_checkpoint_max_leaves_later_epochs_of_another_run_and_the_one_just_saved(tmp_path):
    net, optimizers = model_and_optimizer()
    for epoch in (98, 99, 100):  # an earlier, longer run in the same folder
        save_load.save_model(net, optimizers, {"metric": 0.1, "epoch": epoch}, str(tmp_path), prefix=f"epoch_{epoch}")
    with Checkpointer(keep=1) as checkpoints:
        save = checkpoints.make_whole(save_load.save_model)
        for epoch in (1, 2, 3):
            save(net, optimizers, {"metric": 0.5, "epoch": epoch}, str(tmp_path), prefix=f"epoch_{epoch}")
    stems = {name.split(".")[0] for name in os.listdir(tmp_path) if name.endswith(".pdparams")}
    assert stems == {"epoch_3", "epoch_98", "epoch_99", "epoch_100"}


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_keep_checkpoint_max_is_an_integer_of_at_least_one(value):
    with pytest.raises(ConfigError, match="Global.keep_checkpoint_max must be a whole number >= 1, got "):
        keep_of({"Global": {"keep_checkpoint_max": value}})
    assert keep_of({"Global": {}}) is None and keep_of({"Global": {"keep_checkpoint_max": 2}}) == 2


FULL_AT_THE_LAST_SAVE = """
import errno, os, sys
replace = os.replace
def full_at_latest(source, target, *args, **kwargs):
    if str(target).endswith("latest.pdstates"):  # the last file of the run's last save, moved in the commit thread
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return replace(source, target, *args, **kwargs)
os.replace = full_at_latest
from paddleclas_rdrop.tools.cli import main
sys.argv = ["train.py", *sys.argv[1:]]
main("train")
"""


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_last_save_that_fails_behind_training_ends_the_run_with_its_error(engine, tmp_path_factory):
    workdir = digits_workdir(tmp_path_factory, f"last_save_{engine}")
    args = ["-c", os.path.join(PROJECT, "configs", "rdrop_res2net.yaml")]
    for override in overrides(workdir, "run", epochs=1) + TINY:
        args += ["-o", override]
    result = subprocess.run(
        [sys.executable, "-c", FULL_AT_THE_LAST_SAVE, *args],
        cwd=workdir,
        env=tool_environment(ENGINES[engine]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the checkpoint {workdir / 'run' / 'latest'} could not be written (No space"), last
    assert "== paddleclas-rdrop: the run ended ==" not in result.stdout  # no summary of a run that lost its latest
    assert not os.path.exists(workdir / "run" / "latest.pdstates")
    assert last.endswith(f"resume with -o Global.checkpoints={workdir / 'run' / 'best_model'}"), last  # on disk


def test_a_schedule_of_a_plain_rate_and_a_refusal_offers_the_key_that_differs(tmp_path):
    from paddleclas_rdrop.tools.runs.checkpoints import check_resume, schedule_of

    plain = schedule_of({"Global": {"epochs": 2}, "Optimizer": {"name": "SGD", "lr": 0.01}})
    assert plain["learning_rate"] == 0.01 and plain["lr"] == {}
    cosine = {"Global": {"epochs": 2}, "Optimizer": {"name": "SGD", "lr": {"name": "Cosine", "learning_rate": 0.1}}}
    paddle.save({"epoch": 1, "schedule": schedule_of(cosine)}, str(tmp_path / "epoch_1.pdstates"))
    cosine["Optimizer"]["lr"].update(learning_rate=0.2, warmup_epoch=1)
    with pytest.raises(ConfigError, match=r"resume with the same values \(-o Optimizer.lr.learning_rate=0.1\)"):
        check_resume(str(tmp_path / "epoch_1"), cosine)
    cosine["Optimizer"]["lr"]["learning_rate"] = 0.1  # the warm-up alone differs: the lr section's key
    with pytest.raises(ConfigError, match=r"resume with the same values \(without Optimizer.lr.warmup_epoch\)"):
        check_resume(str(tmp_path / "epoch_1"), cosine)
