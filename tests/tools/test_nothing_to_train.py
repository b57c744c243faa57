"""A run that would train nothing is refused in one line, before anything is written, on both engines."""

import paddle
import pytest

from engine_runs import assert_refused, engine_param, overrides, refusals_by_engine

CASES = [
    (
        ["DataLoader.Train.sampler.batch_size=64", "DataLoader.Train.sampler.drop_last=True"],
        "in batches of 64 with drop_last True give no batch per epoch, so nothing would be trained: set "
        "-o DataLoader.Train.sampler.batch_size=",
    ),
    (
        ["Global.epochs=3", "Global.checkpoints={done}"],
        "has trained 3 epochs and Global.epochs is 3, so nothing is left to train: to train on from its weights, "
        "start a new schedule with -o Global.pretrained_model=",
    ),
]


@pytest.fixture(scope="module")
def refused(workdir):
    done = workdir / "done" / "latest"  # a finished run's checkpoint: its state says epoch 3
    done.parent.mkdir()
    paddle.save({"metric": 0.5, "epoch": 3}, f"{done}.pdstates")
    paddle.save({}, f"{done}.pdparams")
    return refusals_by_engine(
        "rdrop_se_resnet.yaml",
        lambda engine: [
            overrides(workdir, f"nothing_{engine}{index}") + [o.format(done=done) for o in extra]
            for index, (extra, _) in enumerate(CASES)
        ],
        workdir,
    )


@pytest.mark.parametrize("index", range(len(CASES)))
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_run_that_would_train_nothing_is_one_line_and_writes_nothing(engine, index, workdir, refused):
    assert_refused(refused(engine)[index], CASES[index][1], workdir / f"nothing_{engine}{index}")
