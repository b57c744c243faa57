"""The standalone engine's optimizer and batch-op builders, on a real layer and real digits."""

import os

import numpy as np
import paddle
import pytest

from paddleclas_rdrop.core.errors import ConfigError, DataError
from paddleclas_rdrop.tools.data.demo import digits_images
from paddleclas_rdrop.tools.standalone.data import Collate, CutmixOperator, MixupOperator
from paddleclas_rdrop.tools.standalone.optim import build_optimizer


@pytest.mark.parametrize(
    "section, lr_type",
    [
        (
            {
                "name": "Momentum",
                "momentum": 0.9,
                "lr": {"name": "Cosine", "learning_rate": 0.1},
                "regularizer": {"name": "L2", "coeff": 1e-4},
            },
            "CosineAnnealingDecay",
        ),
        (
            {
                "name": "SGD",
                "lr": {"name": "Piecewise", "learning_rate": 0.1, "decay_epochs": [1], "values": [0.1, 0.01]},
            },
            "PiecewiseDecay",
        ),
        ({"name": "Adam", "lr": {"name": "Cosine", "learning_rate": 1e-3, "warmup_epoch": 1}}, "LinearWarmup"),
        ({"name": "AdamW", "weight_decay": 0.05, "lr": {"name": "Constant", "learning_rate": 1e-3}}, "PiecewiseDecay"),
    ],
)
def test_each_optimizer_and_schedule_steps_a_real_layer(section, lr_type):
    layer = paddle.nn.Linear(4, 3)
    before = layer.weight.numpy().copy()
    optimizers, schedules = build_optimizer(section, epochs=2, steps_per_epoch=5, model=layer)
    assert type(schedules[0]).__name__ == lr_type and schedules[0].by_epoch is False
    schedules[0].step()  # past the warmup's starting rate of 0
    layer(paddle.ones([2, 4])).sum().backward()
    optimizers[0].step()
    assert not np.allclose(layer.weight.numpy(), before)


def test_warmup_then_cosine_follow_the_steps():
    section = {"name": "Momentum", "lr": {"name": "Cosine", "learning_rate": 0.1, "warmup_epoch": 1}}
    _, (schedule,) = build_optimizer(section, 2, 4, paddle.nn.Linear(2, 2))
    rates = []
    for _ in range(8):
        rates.append(schedule.get_lr())
        schedule.step()
    assert rates[0] == 0.0 and rates[:4] == sorted(rates[:4]) and max(rates) == pytest.approx(0.1)
    assert rates[4:] == sorted(rates[4:], reverse=True)


def test_clip_norm_clips_each_gradient_as_paddleclas_does():
    layer = paddle.nn.Linear(4, 3, bias_attr=False)
    section = {"name": "SGD", "lr": 1.0, "clip_norm": 0.5}
    (optimizer,), _ = build_optimizer(section, 1, 1, layer)
    before = layer.weight.numpy().copy()
    (100 * layer(paddle.ones([2, 4]))).sum().backward()  # a gradient of norm 200 * sqrt(12)
    optimizer.step()
    assert np.linalg.norm(before - layer.weight.numpy()) == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"name": "Lamb", "lr": 0.1}, "Optimizer.name: 'Lamb' is not supported"),
        ({"name": "SGD", "lr": {"name": "OneCycle", "learning_rate": 0.1}}, "Optimizer.lr.name: 'OneCycle'"),
        ({"name": "SGD", "nesterov": True, "lr": 0.1}, "Optimizer.nesterov is not a key the standalone engine knows"),
    ],
)
def test_unsupported_optimizer_keys_are_named(section, message):
    with pytest.raises(ConfigError, match=message):
        build_optimizer(section, 1, 1, paddle.nn.Linear(2, 2))


@pytest.mark.parametrize("op", [MixupOperator(10, alpha=0.2), CutmixOperator(10, alpha=0.2)])
def test_batch_ops_mix_images_and_give_soft_labels_that_sum_to_one(op):
    np.random.seed(0)
    images, labels = digits_images(size=32, count=16)
    batch = [(image.transpose(2, 0, 1).astype(np.float32), label) for image, label in zip(images, labels)]
    mixed, soft = Collate([op])(batch)
    assert mixed.shape == (16, 3, 32, 32) and soft.shape == (16, 10) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    # each row mixes its own label with one other image's, at one weight for the whole batch
    own, classes = soft[np.arange(16), labels], (soft > 0).sum(axis=1)
    assert (own > 0).all() and (classes <= 2).all() and (classes == 2).any()
    np.testing.assert_allclose(own[classes == 2], own[classes == 2][0], rtol=1e-6)
    plain_images, plain_labels = Collate([])(batch)
    assert plain_labels.shape == (16, 1) and not np.array_equal(plain_images, mixed)


def test_a_long_list_samples_headers_at_start_up_and_names_a_broken_image_when_decoded(tmp_path, monkeypatch):
    from paddleclas_rdrop.tools.data import lists
    from paddleclas_rdrop.tools.data.demo import write_digits_dataset
    from paddleclas_rdrop.tools.standalone.data import ImageListDataset

    root = write_digits_dataset(str(tmp_path / "digits"), size=8, count=40)
    (tmp_path / "digits" / "images" / "00007.png").write_bytes(b"not a png")
    list_path = f"{root}/train_list.txt"
    number = next(n for n, line in enumerate(open(list_path), 1) if line.startswith("images/00007.png"))
    transforms = [{"DecodeImage": {"to_rgb": True, "channel_first": False}}]
    with pytest.raises(DataError, match=f"{list_path}:{number}: image .*00007.png cannot be read"):
        ImageListDataset(root, list_path, transforms)  # a short list: every header at start-up

    monkeypatch.setattr(lists, "HEADER_SAMPLE", 1)  # a long list: a sample without the broken image
    dataset = ImageListDataset(root, list_path, transforms)
    broken = dataset.images.index(f"{root}/images/00007.png")
    assert dataset[0 if broken else 1][0].shape == (3, 8, 8)
    with pytest.raises(DataError, match=f"{list_path}:{number}: image .*00007.png cannot be read"):
        dataset.read(broken)
    image, message = dataset[broken]  # what the DataLoader's thread or worker gets: no raise there
    assert image is None and f"{list_path}:{number}: image" in message


def test_a_missing_image_is_named_with_list_file_and_line(tmp_path):
    from paddleclas_rdrop.tools.data.demo import write_digits_dataset
    from paddleclas_rdrop.tools.data.lists import read_list_file

    root = write_digits_dataset(str(tmp_path / "digits"), size=8, count=20)
    list_path = f"{root}/train_list.txt"
    first = open(list_path).readline().split()[0]
    (tmp_path / "digits" / first).unlink()
    with pytest.raises(DataError, match=f"{list_path}:1: image {root}/{first} not found"):
        read_list_file(root, list_path)


def test_ce_on_stacked_passes_with_repeated_labels_is_the_mean_over_passes():
    """What a stock CELoss sees from the hook: the stacked passes and `RDrop.repeat_labels`, for
    hard and for soft (mixup) labels, with label smoothing; against a float64 NumPy reference."""
    from paddleclas_rdrop import RDrop
    from paddleclas_rdrop.tools.standalone.losses import CELoss

    from models import build
    from reference import log_softmax64

    rng = np.random.default_rng(1)
    x = paddle.to_tensor(rng.normal(size=(10, 10)) * 2, "float32")  # two passes of 5
    rdrop = RDrop(build("SE_ResNet18_vd"), head_dropout=0.1)
    hard = rng.integers(0, 10, size=(5, 1))
    soft = rng.dirichlet(np.ones(10), size=5)
    for label, target in ((paddle.to_tensor(hard), np.eye(10)[hard[:, 0]]), (paddle.to_tensor(soft, "float32"), soft)):
        got = CELoss(epsilon=0.1)(x, rdrop.repeat_labels(label))["CELoss"]
        smoothed = target * 0.9 + 0.1 / 10
        per_pass = [-(smoothed * log_softmax64(part)).sum(axis=1).mean() for part in (x.numpy()[:5], x.numpy()[5:])]
        np.testing.assert_allclose(float(got), np.mean(per_pass), rtol=1e-5)


def test_image_files_match_extensions_whatever_their_case_and_name_what_they_skip(tmp_path):
    from paddleclas_rdrop.core.errors import DataError
    from paddleclas_rdrop.tools.data.lists import image_files

    for name in ("a.png", "B.PNG", "c.Jpeg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    images, skipped = image_files(str(tmp_path))
    assert [os.path.basename(p) for p in images] == ["B.PNG", "a.png", "c.Jpeg"]
    assert skipped == [(str(tmp_path / "notes.txt"), "not an image file (jpg, jpeg, png, bmp)")]
    assert image_files(str(tmp_path / "B.PNG")) == ([str(tmp_path / "B.PNG")], [])
    with pytest.raises(DataError, match="notes.txt is not an image file"):
        image_files(str(tmp_path / "notes.txt"))
    with pytest.raises(DataError, match="Infer.infer_imgs: no image \\(jpg, jpeg, png, bmp\\) at"):
        image_files(str(tmp_path / "missing"))


def test_the_train_loader_draws_with_the_class_balanced_sampler_its_seed_names(tmp_path):
    from paddleclas_rdrop import ClassBalancedSampler
    from paddleclas_rdrop.tools.data.demo import write_digits_dataset
    from paddleclas_rdrop.tools.standalone.data import build_dataloader

    root = write_digits_dataset(str(tmp_path / "digits"), size=8, count=20)
    section = {
        "dataset": {"name": "ImageNetDataset", "image_root": root, "cls_label_path": f"{root}/train_list.txt"},
        "sampler": {"name": "ClassBalancedSampler", "batch_size": 4, "seed": 2},
    }
    sampler = build_dataloader(section, "DataLoader.Train", 10).batch_sampler
    assert isinstance(sampler, ClassBalancedSampler) and sampler.seed == 2
    section["sampler"]["name"] = "DistributedBatchSampler"
    with pytest.raises(ConfigError, match="DataLoader.Train.sampler.seed: only ClassBalancedSampler reads it"):
        build_dataloader(section, "DataLoader.Train", 10)


@pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason="compares with the tree's Piecewise")
@pytest.mark.parametrize(
    "lr, epochs",
    [
        ({"decay_epochs": [1, 2], "values": [0.1, 0.01, 0.001]}, 3),
        ({"learning_rate": 0.1, "decay_epochs": [1], "values": [0.5, 0.05]}, 70),  # the rate's rule wins
        ({"learning_rate": 0.2, "decay_epochs": [1], "values": [1, 1], "warmup_epoch": 1}, 3),  # < 30 epochs
    ],
)
def test_piecewise_follows_paddleclas_own_step_by_step(lr, epochs):
    import sys

    if os.environ["PADDLECLAS_ROOT"] not in sys.path:
        sys.path.append(os.environ["PADDLECLAS_ROOT"])
    from ppcls.optimizer.learning_rate import Piecewise
    from ppcls.utils import logger

    logger.init_logger()  # its Piecewise warns that the rate's rule wins

    steps = 2
    _, (ours,) = build_optimizer(
        {"name": "SGD", "lr": {"name": "Piecewise", **lr}}, epochs, steps, paddle.nn.Linear(2, 2)
    )
    theirs = Piecewise(epochs=epochs, step_each_epoch=steps, **lr)()
    for _ in range(epochs * steps):
        assert ours.get_lr() == pytest.approx(theirs.get_lr(), rel=1e-9)
        ours.step()
        theirs.step()
