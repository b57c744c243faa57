"""Each pass its own augmentation, on a real dataset of each engine: a seeded batch's passes get
different inputs with `augment_per_pass` and equal inputs without, and each image is decoded once."""

import os

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import RDrop
from paddleclas_rdrop.adapter.views import PassViews, augment_per_pass
from paddleclas_rdrop.tools.data.demo import write_digits_dataset

from engine_runs import NEEDS_TREE
from models import build

TRANSFORMS = [
    {"DecodeImage": {"to_rgb": True, "channel_first": False}},
    {"RandCropImage": {"size": 16}},
    {"RandFlipImage": {"flip_code": 1}},
    {"NormalizeImage": {"scale": 1.0 / 255.0, "mean": [0.5] * 3, "std": [0.5] * 3, "order": ""}},
]


def standalone_dataset(root):
    from paddleclas_rdrop.tools.standalone.data import ImageListDataset

    return ImageListDataset(str(root), str(root / "train_list.txt"), TRANSFORMS)


def paddleclas_dataset(root):
    import sys

    sys.path.append(os.environ["PADDLECLAS_ROOT"])
    from ppcls.data.dataloader.imagenet_dataset import ImageNetDataset

    return ImageNetDataset(str(root), str(root / "train_list.txt"), transform_ops=TRANSFORMS)


DATASETS = [
    pytest.param(standalone_dataset, id="standalone"),
    pytest.param(
        paddleclas_dataset,
        id="paddleclas",
        marks=pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE),
    ),
]


def pass_inputs(dataset, per_pass):
    """The k = 2 inputs the model sees for the first 8 images, seeded: `[2, 8, C, H, W]`."""
    np.random.seed(0)
    batch = paddle.to_tensor(np.stack([dataset[i][0] for i in range(8)]).astype("float32"))
    model = build("SE_ResNet18_vd")
    seen = []
    model.conv1_1.register_forward_pre_hook(lambda layer, inputs: seen.append(inputs[0].numpy()))
    model.train()
    RDrop(model, head_dropout=0.1, strategy="concat", augment_per_pass=per_pass)(batch)
    return seen[0].reshape([2, 8, *seen[0].shape[1:]])


@pytest.mark.parametrize("make", DATASETS)
def test_each_pass_gets_its_own_draw_with_the_switch_and_the_same_one_without(make, tmp_path):
    write_digits_dataset(str(tmp_path), size=24, count=16)
    dataset = make(tmp_path)
    same = pass_inputs(dataset, per_pass=False)
    np.testing.assert_array_equal(same[0], same[1])
    augment_per_pass(dataset, 2)
    augment_per_pass(dataset, 2)  # idempotent
    first, second = pass_inputs(dataset, per_pass=True)
    assert first.shape == (8, 3, 16, 16)
    assert (np.abs(first - second).reshape(8, -1).max(axis=1) > 0).mean() > 0.5  # crops and flips differ


def test_an_image_is_decoded_once_for_all_its_views():
    calls = []

    class Decode:
        def __call__(self, data):
            calls.append("decode")
            return np.full((4, 4, 3), 7.0)

    Decode.__name__ = "DecodeImage"
    views = PassViews([Decode(), lambda image: image + np.random.rand()], passes=3)(b"bytes")
    assert calls == ["decode"] and views.shape == (4, 4, 9)
    assert len({float(views[0, 0, 3 * i]) for i in range(3)}) == 3
