"""A run that would train nothing, or a resume that would train on a schedule that is not its own, is
refused in one line, before anything is written, on both engines."""

import paddle
import pytest

from engine_runs import assert_refused, engine_param, overrides, refusals_by_engine

CASES = [
    (
        ["DataLoader.Train.sampler.batch_size=64", "DataLoader.Train.sampler.drop_last=True"],
        "in batches of 64 with drop_last True give no batch per epoch, so nothing would be trained: set "
        "-o DataLoader.Train.sampler.batch_size=",
    ),
    (  # PaddleClas's RASampler takes floor(images / 256) * 256 of them an epoch: none of 38
        ["DataLoader.Train.sampler.name=RASampler"],
        "DataLoader.Train.sampler: RASampler takes a multiple of 256 images an epoch, so the 38 images of ",
    ),
    (
        ["Global.epochs=3", "Global.checkpoints={done}"],
        "has trained 3 epochs and Global.epochs is 3, so nothing is left to train: to train on from its weights, "
        "start a new schedule with -o Global.pretrained_model=",
    ),
    (
        ["Global.epochs=5", "Global.checkpoints={longer}"],
        "was trained with Global.epochs=3 and this run has 5: resume with the same values (-o Global.epochs=3), "
        "or to train on from its weights, start a new schedule with -o Global.pretrained_model=",
    ),
    (
        ["Global.epochs=5", "Global.checkpoints={ended}"],
        "ends a schedule at learning rate 0, so resuming it with Global.epochs=5 would train at learning rate 0",
    ),
]


def checkpoint(path, states, optimizer=None):
    path.parent.mkdir(exist_ok=True)
    paddle.save(states, f"{path}.pdstates")
    paddle.save({}, f"{path}.pdparams")
    if optimizer is not None:
        paddle.save(optimizer, f"{path}.pdopt")
    return path


@pytest.fixture(scope="module")
def refused(workdir):
    paths = {
        # a finished 3-epoch run
        "done": checkpoint(workdir / "done" / "latest", {"metric": 0.5, "epoch": 3}),
        # epoch 2 of a 3-epoch schedule, as the tools record it
        "longer": checkpoint(
            workdir / "done" / "epoch_2",
            {"metric": 0.5, "epoch": 2, "schedule": {"epochs": 3, "learning_rate": 0.00625}},
        ),
        # a finished schedule written by PaddleClas's own tools (no record): its learning rate is 0
        "ended": checkpoint(
            workdir / "done" / "foreign", {"metric": 0.5, "epoch": 3}, [{"LR_Scheduler": {"last_lr": 0.0}}]
        ),
    }
    return refusals_by_engine(
        "rdrop_se_resnet.yaml",
        lambda engine: [
            overrides(workdir, f"nothing_{engine}{index}") + [o.format(**paths) for o in extra]
            for index, (extra, _) in enumerate(CASES)
        ],
        workdir,
    )


@pytest.mark.parametrize("index", range(len(CASES)))
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_run_that_would_train_nothing_or_at_lr_0_is_one_line_and_writes_nothing(engine, index, workdir, refused):
    assert_refused(refused(engine)[index], CASES[index][1], workdir / f"nothing_{engine}{index}")


def step_rates(log, epoch):
    """The learning rate of each step of `epoch` in a PaddleClas log."""
    import re

    step = rf"\[Train\]\[Epoch {epoch}/\d+\]\[Iter: \d+/\d+\]lr\(\w+\): ([\d.e+-]+)"
    return [float(value) for value in re.findall(step, log)]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_resume_continues_the_learning_rate_at_every_step_and_refuses_another_batch_size(engine, workdir):
    from engine_runs import ENGINES, TINY, run_tool

    name = f"resumed_{engine}"
    keys = overrides(workdir, name, epochs=2, every_epoch=True) + TINY
    keys += ["Optimizer.lr.warmup_epoch=1", "Global.print_batch_step=1", "DataLoader.Train.sampler.batch_size=8"]
    straight = run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine])
    rates = step_rates(straight.stdout + straight.stderr, 2)
    assert len(rates) == 5 and len(set(rates)) > 1  # 38 images in batches of 8; a cosine after the warm-up
    resume = keys + [f"Global.checkpoints={workdir / name / 'epoch_1'}"]
    resumed = run_tool("train.py", "rdrop_res2net.yaml", resume, cwd=workdir, env=ENGINES[engine])
    assert step_rates(resumed.stdout + resumed.stderr, 2) == pytest.approx(rates, rel=1e-6)
    refused = run_tool(
        "train.py", "rdrop_res2net.yaml", resume + ["DataLoader.Train.sampler.batch_size=16"], cwd=workdir,
        env=ENGINES[engine], check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert (
        "was trained with the steps per epoch=5, DataLoader.Train.sampler.batch_size=8 and this run has 3, 16: "
        "resume with the same values (-o DataLoader.Train.sampler.batch_size=8)"
    ) in refused.stderr, refused.stderr[-2000:]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_update_freq_over_the_batches_of_an_epoch_is_set_to_1_with_a_warning(engine, workdir):
    from engine_runs import ENGINES, TINY, run_tool, step_losses

    keys = overrides(workdir, f"update_freq_{engine}") + TINY + ["Global.update_freq=8", "Global.print_batch_step=1"]
    result = run_tool("train.py", "rdrop_se_resnet.yaml", keys, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    warning = {  # each engine's own words
        "paddleclas": "Global.update_freq greater than iter_per_epoch and has been set to 1",
        "standalone": "Global.update_freq is 8, more than the 3 batches of an epoch: it is set to 1",
    }
    assert warning[engine] in log, log[-2000:]
    assert len(step_losses(log, "RDropLoss")) == 3  # 38 images in batches of 16: every batch trained
