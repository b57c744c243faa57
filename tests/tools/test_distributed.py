"""Two processes under `paddle.distributed.launch` against one process with the same global batch.

Two CPU runs of a dropout-free network (`TINY`: MobileNetV1_x0_25) from the same weights match only
where BatchNorm sees the same batch statistics: per process it normalises its own half of the global batch. The
digits list here repeats each half of a global batch, so both halves (and the whole) have the
same statistics; data order and augmentation are fixed. Then the weights must agree up to
floating-point reassociation, amplified over the steps; with dropout, up to the dropout masks,
which differ by design (one seed per process).

Distances are relative to how far one process moved the weights from their start (2 steps at
lr 1e-5). Measured (both engines give the same weights; `pytest -s tests/tools/test_distributed.py` prints
them): 0.000-0.011 without dropout, 0.34 for R-Drop (head dropout 0.01: the masks act on the classifier's
inputs, where most of the movement is). One process on half the batch, a run each check must reject,
measures 1.59 without dropout and 1.26 with R-Drop: above 0.5 and 0.9 is asserted (`REJECTED`).
"""

import shutil

import numpy as np
import paddle
import pytest
import yaml
from conftest import delete_weights

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, run_tool, step_losses
from models import build

GLOBAL_BATCH = 32
TINY_NAME = TINY[0].split("=")[1]
TOLERANCE = {"baseline": 0.1, "rdrop": 0.6}  # of the one-process movement, see the docstring
REJECTED = {"baseline": 0.5, "rdrop": 0.9}  # a half-batch run measures above these: each tolerance can fail


@pytest.fixture(scope="module")
def distributed_workdir(tmp_path_factory):
    """48 digits, the first 32 training ones with each half of every global batch written twice (64 lines,
    2 steps), a start checkpoint, and the project's configs without the random flip (its draw differs per
    process)."""

    from paddleclas_rdrop.tools.data.demo import write_digits_dataset

    path = tmp_path_factory.mktemp("distributed")
    write_digits_dataset(str(path / "digits"), size=16, count=48)
    lines = (path / "digits" / "train_list.txt").read_text().splitlines()
    half = GLOBAL_BATCH // 2
    repeated = [line for start in (0, half) for line in lines[start : start + half] * 2]
    assert len(lines) >= GLOBAL_BATCH and len(repeated) == 2 * GLOBAL_BATCH
    (path / "digits" / "train_list.txt").write_text("\n".join(repeated) + "\n")
    for name in ("baseline", "rdrop"):
        config = yaml.safe_load(open(f"{PROJECT}/configs/{name}_se_resnet.yaml"))
        ops = config["DataLoader"]["Train"]["dataset"]["transform_ops"]
        config["DataLoader"]["Train"]["dataset"]["transform_ops"] = [op for op in ops if "RandFlipImage" not in op]
        yaml.safe_dump(config, open(path / f"{name}.yaml", "w"), sort_keys=False)
    paddle.save(build(TINY_NAME, seed=1).state_dict(), str(path / "start.pdparams"))
    yield path
    delete_weights(path)


def train(distributed_workdir, engine, config, name, processes, seed=7, batch_size=None):
    """The trainable weights after one epoch of `config` on `processes` processes."""
    batch_size = batch_size or (GLOBAL_BATCH // processes)
    extra = [
        *overrides(distributed_workdir, f"{engine}_{name}"),
        *TINY,
        f"Global.seed={seed}",
        f"Global.pretrained_model={distributed_workdir}/start",
        "Global.print_batch_step=1",
        "Global.log_ranks=0,1",
        f"DataLoader.Train.sampler.batch_size={batch_size}",
        "DataLoader.Train.sampler.shuffle=False",
        "DataLoader.Train.dataset.batch_transform_ops=None",
        "DataLoader.Train.dataset.transform_ops.1.RandCropImage.scale=[1.0,1.0]",
        "DataLoader.Train.dataset.transform_ops.1.RandCropImage.ratio=[1.0,1.0]",
        "Optimizer.lr.learning_rate=0.00001",
    ]
    # the recipes' drop path draws its masks per process: off here, as the docstring's measurement
    extra += ["RDrop.drop_path=0", "RDrop.head_dropout=0" if config == "baseline" else "RDrop.head_dropout=0.01"]
    run_tool(
        "train.py",
        str(distributed_workdir / f"{config}.yaml"),
        extra,
        cwd=distributed_workdir,
        env=ENGINES[engine],
        launch_processes=processes if processes > 1 else 0,
    )
    output = distributed_workdir / f"{engine}_{name}"
    weights = trainable_weights(output / "latest.pdparams")
    shutil.rmtree(output)  # its checkpoints, once read
    return weights


def trainable_weights(path):
    """A checkpoint's weights without BatchNorm's running statistics, which stay per process."""
    return {k: v.numpy() for k, v in paddle.load(str(path)).items() if not k.endswith(("_mean", "_variance"))}


def distance(a, b):
    return float(np.sqrt(sum(((a[key] - b[key]) ** 2).sum() for key in a)))


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_two_processes_match_one_with_the_same_global_batch(distributed_workdir, engine):
    start = trainable_weights(distributed_workdir / "start.pdparams")
    for config in ("baseline", "rdrop"):
        one = train(distributed_workdir, engine, config, f"{config}_1", processes=1)
        two = train(distributed_workdir, engine, config, f"{config}_2", processes=2)
        moved = distance(one, start)
        assert moved > 0
        print(f"{engine} {config}: 2 vs 1 process {distance(two, one) / moved:.3f} of the movement")
        assert distance(two, one) / moved < TOLERANCE[config], config
        logs = [(distributed_workdir / "launch_log" / f"workerlog.{rank}").read_text() for rank in (0, 1)]
        for log in logs:  # each process ran its half of the 2 global batches, then evaluated
            assert "[Iter: 0/2]" in log and "[Eval][Epoch 1][Avg]" in log, log[-2000:]
            assert config == "baseline" or step_losses(log, "RDropLoss")
        half = train(distributed_workdir, engine, config, f"{config}_half", processes=1, batch_size=GLOBAL_BATCH // 2)
        print(f"{engine} {config} one process, half the batch: {distance(half, one) / moved:.3f}")
        assert distance(half, one) / moved > REJECTED[config]  # the check rejects a run that is wrong


def eval_top(workdir, engine, processes, *keys):
    """(top1, top5) that tools/eval.py gives the start weights on the 10 val images, on `processes` processes."""
    import re

    extra = [
        *overrides(workdir, f"{engine}_eval_{processes}"),
        *TINY,
        f"Global.pretrained_model={workdir}/start",
        "DataLoader.Eval.sampler.batch_size=2",
        *keys,
    ]
    result = run_tool(
        "eval.py",
        "rdrop_se_resnet.yaml",
        extra,
        cwd=workdir,
        env=ENGINES[engine],
        launch_processes=processes if processes > 1 else 0,
    )
    log = (workdir / "launch_log" / "workerlog.0").read_text() if processes > 1 else result.stdout + result.stderr
    found = re.findall(r"\[Eval\](?:\[Epoch \d+\])?\[Avg\].*?top1: ([\d.]+), top5: ([\d.]+)", log)
    assert found, log[-2000:]
    return tuple(map(float, found[-1]))


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_evaluation_on_three_processes_counts_every_image_once(tmp_path, engine):
    from paddleclas_rdrop.tools.data.demo import write_digits_dataset

    write_digits_dataset(str(tmp_path / "digits"), size=16, count=50)  # 10 val images: 4, 3 and 3 per process
    assert len((tmp_path / "digits" / "val_list.txt").read_text().split("\n")) - 1 == 10
    paddle.save(build(TINY_NAME, seed=3).state_dict(), str(tmp_path / "start.pdparams"))
    one = eval_top(tmp_path, engine, 1)
    assert all(round(value * 10, 6).is_integer() for value in one)  # x / 10: no padded image counted
    assert eval_top(tmp_path, engine, 3) == pytest.approx(one, abs=1e-6)
    if engine == "standalone":  # a shuffled val set: the same images once each, in another order
        assert eval_top(tmp_path, engine, 3, "DataLoader.Eval.sampler.shuffle=True") == pytest.approx(one, abs=1e-6)
    delete_weights(tmp_path)
