"""A run never replaces another run, a resume keeps the whole run's best model, and the folders a tool
writes are checked before the model is built, on both engines."""

import os
import shutil

import paddle
import pytest

from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.preflight import check_epochs_left
from paddleclas_rdrop.tools.runs.outputs import check_no_other_run, repair_latest, resumable

from engine_runs import ENGINES, TINY, engine_param, overrides, refusals, run_tool


def fake_checkpoint(prefix, epoch, parts=(".pdparams", ".pdopt", ".pdstates"), metric=0.5):
    """A checkpoint's files (the weights need not be real: the checks look at names and `.pdstates`)."""
    for suffix in parts:
        if suffix == ".pdstates":
            paddle.save({"metric": metric, "epoch": epoch}, prefix + suffix)
        else:
            open(prefix + suffix, "wb").close()


def fake_run(folder, metric=0.942, epoch=7):
    """A folder holding a finished run's files: a whole `latest` and `best_model`."""
    os.makedirs(folder, exist_ok=True)
    fake_checkpoint(os.path.join(folder, "latest"), epoch)
    fake_checkpoint(os.path.join(folder, "best_model"), epoch, metric=metric)


def test_the_resume_named_is_the_whole_checkpoint_at_the_highest_epoch(tmp_path):
    folder = str(tmp_path)
    assert resumable(folder) is None
    fake_checkpoint(f"{folder}/best_model", 1)
    assert resumable(folder) == f"{folder}/best_model"
    fake_checkpoint(f"{folder}/epoch_2", 2)
    fake_checkpoint(f"{folder}/latest", 3, parts=(".pdparams", ".pdstates"))  # stopped before its .pdopt
    assert resumable(folder) == f"{folder}/epoch_2"
    fake_checkpoint(f"{folder}/latest", 2)
    assert resumable(folder) == f"{folder}/latest"  # the same epoch as epoch_2: latest
    with open(f"{folder}/epoch_3.pdstates", "wb") as handle:
        handle.write(b"not a pickle")
    fake_checkpoint(f"{folder}/epoch_3", 3, parts=(".pdparams", ".pdopt"))
    assert resumable(folder) == f"{folder}/latest"  # a .pdstates that does not load is passed over
    fake_checkpoint(f"{folder}/best_model", 4)  # killed while the last epoch's latest was saved
    assert resumable(folder) == f"{folder}/latest"  # it trains epoch 4 again; best_model has nothing left


def stopped_during_the_last_latest(folder, latest_parts=(".pdparams", ".pdopt", ".pdstates")):
    """A 4-epoch run killed while its last `latest` was saved: `latest` of epoch 3, then a whole `epoch_4`."""
    fake_checkpoint(f"{folder}/latest", 3, parts=latest_parts)
    fake_checkpoint(f"{folder}/epoch_4", 4, parts=(".pdparams", ".pdopt", ".pdstates", ".pdema"))
    for suffix in (".pdparams", ".pdopt", ".pdema"):
        with open(f"{folder}/epoch_4{suffix}", "wb") as handle:
            handle.write(f"epoch 4's {suffix}".encode())
    fake_checkpoint(f"{folder}/epoch_40", 40)  # another name that starts alike
    if os.path.exists(f"{folder}/latest.pdstates"):  # saved an epoch before epoch_4 (a file time tick is coarse)
        os.utime(f"{folder}/latest.pdstates", (os.path.getmtime(f"{folder}/epoch_4.pdstates") - 60,) * 2)


def resume(checkpoint, output_dir):
    """The line the tools print for a resume with nothing left: the check's refusal after its repair step."""
    with pytest.raises(ConfigError) as refused:
        check_epochs_left({"Global": {"checkpoints": checkpoint, "epochs": 4, "output_dir": output_dir}})
    return str(repair_latest(refused.value))


def test_the_check_of_a_resume_with_nothing_left_writes_nothing_and_carries_its_facts(tmp_path):
    folder = str(tmp_path)
    stopped_during_the_last_latest(folder)
    before = {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in os.listdir(folder)}
    with pytest.raises(ConfigError) as refused:
        check_epochs_left({"Global": {"checkpoints": f"{folder}/epoch_4", "epochs": 4, "output_dir": folder}})
    assert {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in os.listdir(folder)} == before
    assert paddle.load(f"{folder}/latest.pdstates")["epoch"] == 3
    error = refused.value
    assert (error.checkpoint, error.done, error.epochs, error.output_dir) == (f"{folder}/epoch_4", 4, 4, folder)
    assert not error.latest_copied and "behind it" not in str(error)
    repaired = repair_latest(error)  # the repair step, apart from the check
    assert repaired.latest_copied and repaired.latest_had == 3
    assert paddle.load(f"{folder}/latest.pdstates")["epoch"] == 4


@pytest.mark.parametrize("latest_parts", [(".pdparams", ".pdopt", ".pdstates"), (".pdparams", ".pdstates")])
def test_a_resume_with_nothing_left_brings_a_latest_a_stop_cut_short_up_to_the_last_epoch(tmp_path, latest_parts):
    folder = str(tmp_path)
    stopped_during_the_last_latest(folder, latest_parts)
    was = "at epoch 3" if len(latest_parts) == 3 else "incomplete"
    said = resume(f"{folder}/epoch_4", folder)
    assert f"nothing is left to train ({folder}/latest was {was}, behind it; it is now a copy of epoch_4)" in said
    assert paddle.load(f"{folder}/latest.pdstates")["epoch"] == 4
    for suffix in (".pdparams", ".pdopt", ".pdstates", ".pdema"):
        with open(f"{folder}/latest{suffix}", "rb") as a, open(f"{folder}/epoch_4{suffix}", "rb") as b:
            assert a.read() == b.read()
    assert not [name for name in os.listdir(folder) if name.startswith(".partial")]
    assert "behind it" not in resume(f"{folder}/epoch_4", folder)  # now whole: nothing more is written or said


def test_the_tool_repairs_latest_on_the_refusal_and_says_so_in_its_one_line(workdir):
    folder = str(workdir / "stopped_last")
    os.makedirs(folder)
    stopped_during_the_last_latest(folder)
    extra = overrides(workdir, "stopped_last", epochs=4) + TINY + [f"Global.checkpoints={folder}/epoch_4"]
    result = run_tool("train.py", "rdrop_se_resnet.yaml", extra, cwd=workdir, env=ENGINES["standalone"], check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: Global.checkpoints: {folder}/epoch_4 has trained 4 epochs and Global.epochs is 4, so nothing is "
        f"left to train ({folder}/latest was at epoch 3, behind it; it is now a copy of epoch_4): to train on from "
        f"its weights, start a new schedule with -o Global.pretrained_model={folder}/epoch_4 -o "
        f"Global.output_dir={folder}_2 (and no Global.checkpoints)"
    )
    assert paddle.load(f"{folder}/latest.pdstates")["epoch"] == 4


def test_a_latest_that_is_not_a_stopped_save_of_that_run_is_never_replaced(tmp_path):
    def latest_epoch():
        return paddle.load(f"{folder}/latest.pdstates")["epoch"]

    folder = str(tmp_path / "run")
    os.makedirs(folder)
    stopped_during_the_last_latest(folder)
    assert "behind it" not in resume(f"{folder}/epoch_4", str(tmp_path / "elsewhere"))  # another output_dir
    assert latest_epoch() == 3
    fake_checkpoint(f"{folder}/best_model", 4)
    assert "behind it" not in resume(f"{folder}/best_model", folder)  # best_model is never copied over latest
    fake_checkpoint(f"{folder}/latest", 3)  # written after epoch_4: a resume from epoch_2 since, stopped in epoch 4
    os.utime(f"{folder}/latest.pdstates", (os.path.getmtime(f"{folder}/epoch_4.pdstates") + 60,) * 2)
    assert "behind it" not in resume(f"{folder}/epoch_4", folder)
    assert latest_epoch() == 3
    os.remove(f"{folder}/latest.pdstates")
    os.remove(f"{folder}/latest.pdopt")
    os.remove(f"{folder}/latest.pdparams")
    assert "behind it" not in resume(f"{folder}/epoch_4", folder)  # no latest at all: an archived epoch_4
    assert not os.path.exists(f"{folder}/latest.pdstates")


def test_a_latest_that_cannot_be_written_leaves_the_refusal_as_it_was(tmp_path, monkeypatch):
    folder = str(tmp_path)
    stopped_during_the_last_latest(folder)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("shutil.copyfile", full_disk)
    said = resume(f"{folder}/epoch_4", folder)
    assert "nothing is left to train: to train on" in said
    assert paddle.load(f"{folder}/latest.pdstates")["epoch"] == 3
    assert not [name for name in os.listdir(folder) if name.startswith(".partial")]


def test_a_folder_with_no_whole_checkpoint_says_so_and_offers_the_new_folder(tmp_path):
    fake_checkpoint(str(tmp_path / "best_model"), 1, parts=(".pdparams",))
    (tmp_path / "best_model.pdstates").write_bytes(b"cut sho")  # a .pdstates that does not load
    with pytest.raises(ConfigError) as refused:
        check_no_other_run({"Global": {"output_dir": str(tmp_path)}})
    assert str(refused.value) == (
        f"Global.output_dir {tmp_path} holds a run, which this run would replace: it holds no whole checkpoint "
        f"to resume from; to start anew, give another folder (-o Global.output_dir={tmp_path}_2) or remove "
        f"{tmp_path} first"
    )


@pytest.mark.parametrize(
    "done, planned, epochs, offer",
    [
        (3, 10, 10, "to go on with it, resume with -o Global.checkpoints={out}/latest"),
        (
            3,
            10,
            20,
            "a resume from {out}/latest with this run's values is refused ({out}/latest was trained with Global.epochs"
            "=10 and this run has 20: resume with the same values (-o Global.epochs=10), or to train on from its "
            "weights, start a new schedule with -o Global.pretrained_model={out}/latest -o Global.output_dir={out}_2)",
        ),
        (
            10,
            10,
            20,
            "it has trained all 10 epochs of its schedule; to train on from its weights, start a new schedule with "
            "-o Global.pretrained_model={out}/latest -o Global.output_dir={out}_2",
        ),
    ],
)
def test_the_refusal_of_a_second_run_offers_only_what_works_with_the_run_in_the_folder(
    tmp_path, done, planned, epochs, offer
):
    out = tmp_path / "run"
    fake_run(str(out), epoch=done)
    paddle.save({"metric": 0.5, "epoch": done, "schedule": {"epochs": planned}}, str(out / "latest.pdstates"))
    config = {
        "Global": {"output_dir": str(out), "epochs": epochs},
        "Optimizer": {"name": "Momentum", "lr": {"name": "Cosine", "learning_rate": 0.1}},
    }
    with pytest.raises(ConfigError) as refused:
        check_no_other_run(config)
    assert f"which this run would replace: {offer.format(out=out)}; to start anew" in str(refused.value)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_second_run_into_a_finished_runs_folder_is_refused_before_anything_is_written(engine, workdir):
    out = workdir / f"finished_{engine}"
    fake_run(str(out))
    before = {name: os.path.getmtime(out / name) for name in os.listdir(out)}
    (outcome,) = refusals(
        "train", "rdrop_res2net.yaml", [overrides(workdir, out.name) + TINY], cwd=workdir, env=ENGINES[engine]
    )
    assert outcome == (  # 7 epochs, Global.epochs 1: no resume trains anything
        f"error: Global.output_dir {out} holds a run (best_model: metric 0.9420 at epoch 7), which this run would "
        f"replace: it has trained all 7 epochs of its schedule; to train on from its weights, start a new schedule "
        f"with -o Global.pretrained_model={out}/latest -o Global.output_dir={out}_2; to start anew, give another "
        f"folder (-o Global.output_dir={out}_2) or remove {out} first"
    )
    assert {name: os.path.getmtime(out / name) for name in os.listdir(out)} == before
    shutil.rmtree(out)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_resume_keeps_the_best_model_of_the_whole_run(engine, workdir):
    out = workdir / f"resume_best_{engine}"
    keys = overrides(workdir, out.name, epochs=2, every_epoch=True) + TINY
    run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine])
    # the run as it stood after epoch 1, had its best so far been 0.999 (better than any epoch here)
    state = paddle.load(str(out / "epoch_1.pdstates"))
    assert "best_metric" in state  # recorded at every save
    paddle.save({**state, "best_metric": 0.999}, str(out / "epoch_1.pdstates"))
    paddle.save({"metric": 0.999, "epoch": 1}, str(out / "best_model.pdstates"))
    resumed = run_tool(
        "train.py", "rdrop_res2net.yaml", keys + [f"Global.checkpoints={out}/epoch_1"], cwd=workdir, env=ENGINES[engine]
    )
    assert "[Eval][Epoch 2][best metric: 0.999]" in resumed.stdout + resumed.stderr
    assert paddle.load(str(out / "best_model.pdstates"))["metric"] == 0.999  # not replaced by epoch 2's
    assert paddle.load(str(out / "latest.pdstates"))["best_metric"] == 0.999
    shutil.rmtree(out)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_output_dir_that_is_a_file_is_one_line(engine, workdir):
    path = workdir / f"a_file_{engine}"
    path.write_text("not a folder")
    cases = [
        overrides(workdir, "unused") + TINY + [f"Global.output_dir={path}"],
        overrides(workdir, "unused") + TINY + [f"Global.output_dir={path}/run"],
    ]
    outcomes = refusals("train", "rdrop_res2net.yaml", cases, cwd=workdir, env=ENGINES[engine])
    assert outcomes[0].startswith(f"error: Global.output_dir is {path}, which is a file, not a folder")
    assert outcomes[1] == f"error: Global.output_dir is {path}/run, but {path} is a file: give a folder elsewhere"
    assert path.read_text() == "not a folder"


def test_a_disk_without_room_for_the_checkpoints_is_one_line(tmp_path, monkeypatch):
    from paddleclas_rdrop.tools.runs.outputs import check_room

    model = paddle.nn.Linear(1000, 1000)  # 3.8 MB of weights
    config = {"Global": {"output_dir": str(tmp_path / "run"), "epochs": 4}, "Optimizer": {"name": "AdamW"}}
    check_room(model, config)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10 * 2**20))
    with pytest.raises(ConfigError) as refused:  # (4 epochs + latest, best_model, in flight) x 3 copies + 2 copies
        check_room(model, config)
    assert str(refused.value).startswith(
        f"Global.output_dir {tmp_path / 'run'}: 10 MB free, but this model's checkpoints take about 88 MB (latest, "
        "best_model, 4 epoch checkpoints and a save in flight, each 11.5 MB: 3.8 MB of weights, 2 times the trained "
        "ones in the optimizer state): free some space"
    )
    config["Global"].update(keep_checkpoint_max=1, save_interval=2)  # one epoch checkpoint kept, Momentum, EMA
    config.update(Optimizer={"name": "Momentum"}, EMA={"decay": 0.999})
    with pytest.raises(ConfigError, match=r"take about 53 MB \(latest, best_model, 1 epoch checkpoint and .* 11.5 MB"):
        check_room(model, config)


def bytes_under(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_room_check_counts_what_a_run_writes_within_ten_percent(engine, workdir):
    from paddleclas.ppcls.arch.backbone import MobileNetV1_x0_25

    from paddleclas_rdrop.tools.runs.outputs import checkpoint_bytes

    out = workdir / f"room_{engine}"
    keys = overrides(workdir, out.name, epochs=2, every_epoch=True) + TINY
    run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine])
    model = MobileNetV1_x0_25(class_num=10)
    assert sorted(model.state_dict()) == sorted(paddle.load(str(out / "latest.pdparams")))
    best = bytes_under(out / "best_model") + sum(os.path.getsize(p) for p in out.glob("best_model.*"))
    written = bytes_under(out) - sum(os.path.getsize(p) for p in out.glob("*.log")) + best  # + the save in flight
    config = {"Global": {"epochs": 2, "save_interval": 1}, "Optimizer": {"name": "Momentum"}}
    estimate = checkpoint_bytes(model, config)[0]
    sizes = {p.name: p.stat().st_size for p in out.rglob("*.pd*")}
    assert written <= estimate <= 1.1 * written, (estimate, written, sizes)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_weights_gone_non_finite_under_a_clipped_loss_stop_the_run_and_are_never_saved(engine, workdir):
    import numpy as np

    out = workdir / f"poisoned_{engine}"
    keys = overrides(workdir, out.name, epochs=2, every_epoch=True) + TINY
    keys += ["Optimizer.lr.learning_rate=1e6", "Optimizer.clip_norm=1.0", "Global.print_batch_step=1"]
    result = run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine], check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert errors[0].startswith("error: training stopped: ") and "Traceback" not in result.stderr
    assert "Lower Optimizer.lr.learning_rate or alpha" in errors[0]
    for weights in out.glob("*.pdparams") if out.exists() else []:
        assert all(np.isfinite(v.numpy()).all() for v in paddle.load(str(weights)).values()), weights
    if out.exists():
        shutil.rmtree(out)
