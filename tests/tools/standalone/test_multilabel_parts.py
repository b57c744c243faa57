"""The standalone engine's multi-label parts against PaddleClas's own classes, imported from its source tree, on
the same batch of digits at 32 px: MultiLabelDataset's targets and label ratios, MultiLabelLoss (every option,
values and gradients), MultiLabelAsymmetricLoss, and the HammingDistance, AccuracyScore and ATTRMetric values;
and the value the best model is kept on."""

import os
import sys

import numpy as np
import paddle
import pytest

from engine_runs import digit_targets, write_multilabel_digits

ROOT = os.environ.get("PADDLECLAS_ROOT")
pytestmark = pytest.mark.skipif(
    not ROOT,
    reason="PADDLECLAS_ROOT is unset: these tests compare with PaddleClas's own MultiLabelLoss, metrics and "
    "MultiLabelDataset, which only its source tree has (not the pip wheel)",
)
LABELS = 5


@pytest.fixture(scope="module")
def ppcls():
    """PaddleClas's loss, metric and dataset modules of the source tree."""
    if ROOT not in sys.path:
        sys.path.append(ROOT)
    from ppcls.data.dataloader import multilabel_dataset
    from ppcls.loss import multilabelloss
    from ppcls.metric import metrics

    return multilabelloss, metrics, multilabel_dataset


@pytest.fixture(scope="module")
def batch(digits):
    """(logits float32 [24, 5], targets float32 [24, 5] of 0/1, the same with a fifth at -1, ratios [24, 5]):
    the logits a fixed random projection of the digits, the targets their attributes."""
    images, labels = digits
    rng = np.random.default_rng(0)
    projection = rng.normal(0, 0.02, (int(np.prod(images.shape[1:])), LABELS)).astype("float32")
    logits = images.reshape([images.shape[0], -1]).numpy() @ projection
    targets = digit_targets(labels.numpy()).astype("float32")
    unknown = targets.copy()
    unknown[rng.random(unknown.shape) < 0.2] = -1
    ratios = np.broadcast_to(unknown.mean(0), unknown.shape).astype("float32")  # MultiLabelDataset's ratio
    return logits, targets, unknown, ratios


def value_and_grad(loss, logits, target, key):
    """(the loss value, d loss / d logits) of `loss` on numpy `logits` and `target`."""
    x = paddle.to_tensor(logits, stop_gradient=False)
    value = loss(x, paddle.to_tensor(target))[key]
    value.sum().backward()
    return value.numpy(), x.grad.numpy()


@pytest.mark.parametrize("epsilon", [None, 0.1])
@pytest.mark.parametrize("size_sum", [False, True])
@pytest.mark.parametrize("weight_ratio", [False, True])
def test_multilabel_loss_is_paddleclas_own(ppcls, batch, epsilon, size_sum, weight_ratio):
    from paddleclas_rdrop.tools.standalone.losses import MultiLabelLoss

    logits, _, unknown, ratios = batch
    target = np.stack([unknown, ratios], axis=1) if weight_ratio else unknown  # label_ratio's [B, 2, L]
    options = dict(epsilon=epsilon, size_sum=size_sum, weight_ratio=weight_ratio)
    ours = value_and_grad(MultiLabelLoss(**options), logits, target, "MultiLabelLoss")
    theirs = value_and_grad(ppcls[0].MultiLabelLoss(**options), logits, target, "MultiLabelLoss")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-8)
    if weight_ratio and epsilon is None:  # a -1 target weighs 0: no gradient reaches its logit
        assert np.all(ours[1][unknown < 0] == 0)


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
@pytest.mark.parametrize("clip, disable_focal_loss_grad", [(0.05, True), (0, False)])
def test_multilabel_asymmetric_loss_is_paddleclas_own(ppcls, batch, reduction, clip, disable_focal_loss_grad):
    from paddleclas_rdrop.tools.standalone.losses import MultiLabelAsymmetricLoss

    logits, targets, _, _ = batch
    options = dict(clip=clip, disable_focal_loss_grad=disable_focal_loss_grad, reduction=reduction)
    key = "MultiLabelAsymmetricLoss"
    ours = value_and_grad(MultiLabelAsymmetricLoss(**options), logits, targets, key)
    theirs = value_and_grad(ppcls[0].MultiLabelAsymmetricLoss(**options), logits, targets, key)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name, options", [("HammingDistance", {}), ("AccuracyScore", {"base": "label"}),
                                           ("AccuracyScore", {"base": "sample"})])  # fmt: skip
def test_per_batch_metrics_are_paddleclas_own(ppcls, batch, name, options):
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    logits, targets, _, _ = batch
    ours = Metrics([{name: options}], "Metric.Eval")
    theirs = getattr(ppcls[1], name)(**options)
    for part in np.split(np.arange(len(logits)), 2):  # two batches
        x, y = paddle.to_tensor(logits[part]), paddle.to_tensor(targets[part])
        assert ours(x, y)[name] == pytest.approx(float(theirs(x, y)[name]), rel=1e-6)  # theirs is float32
        labelled = paddle.to_tensor(np.stack([targets[part], targets[part]], axis=1))  # label_ratio's [B, 2, L]
        assert ours(x, labelled)[name] == ours(x, y)[name]
    assert ours.main_key == name  # what PaddleClas's Engine keeps the best model on: the first metric's average


def test_attr_metric_is_paddleclas_own_over_an_evaluation(ppcls, batch):
    from paddleclas_rdrop.tools.standalone.metrics import Metrics
    from paddleclas_rdrop.tools.standalone.multilabel_metrics import ATTR_RESULTS

    logits, _, unknown, ratios = batch
    ours, theirs = Metrics([{"ATTRMetric": None}], "Metric.Eval"), ppcls[1].ATTRMetric()
    ours.reset()
    theirs.reset()
    target = np.stack([unknown, ratios], axis=1)  # PULC's label_ratio batches
    for part in np.split(np.arange(len(logits)), 3):
        x, y = paddle.to_tensor(logits[part] * 20), paddle.to_tensor(target[part])  # logits on both sides of 0.5
        assert ours(x, y) == {}
        theirs(x, y)
    summary = ours.summary()
    assert list(summary) == list(ATTR_RESULTS) and ours.main_key == "ma"
    np.testing.assert_allclose([summary[key] for key in ATTR_RESULTS], theirs.attrmeter.res(), rtol=1e-12)
    assert ours.summary() == summary  # summarising twice gives the same values
    assert 0 < summary["ma"] < 1


@pytest.mark.parametrize("label_ratio", [False, True])
def test_dataset_targets_are_paddleclas_multilabel_datasets(ppcls, tmp_path, label_ratio):
    from paddleclas_rdrop.tools.standalone.data import build_dataloader

    write_multilabel_digits(tmp_path, train=12, val=4)
    dataset = {"name": "MultiLabelDataset", "image_root": str(tmp_path), "cls_label_path": str(tmp_path / "train.txt"),
               "transform_ops": [{"DecodeImage": {"to_rgb": True, "channel_first": False}}]}  # fmt: skip
    section = {"dataset": {**dataset, "label_ratio": label_ratio}, "sampler": {"batch_size": 12}}
    loader = build_dataloader(section, "DataLoader.Train", LABELS, multilabel=True)
    images, labels = next(iter(loader))
    theirs = ppcls[2].MultiLabelDataset(str(tmp_path), str(tmp_path / "train.txt"), dataset["transform_ops"],
                                        label_ratio=label_ratio)  # fmt: skip
    expected = np.stack([theirs[index][1] for index in range(12)])
    assert labels.dtype == paddle.float32 and labels.shape == list(expected.shape)
    assert labels.shape == ([12, 2, LABELS] if label_ratio else [12, LABELS])
    np.testing.assert_array_equal(labels.numpy(), expected)
    np.testing.assert_array_equal(images.numpy()[0], theirs[0][0])
    assert (labels.numpy() == -1).any()


@pytest.mark.parametrize("map_type", ["integral", "11point"])
@pytest.mark.parametrize("scale", [1, 400])  # 400: many sigmoids saturate at exactly 0 or 1, whose ties rank as there
@pytest.mark.parametrize("which", ["targets", "unknown"])
def test_multilabel_map_is_paddleclas_own_over_an_evaluation(ppcls, batch, map_type, scale, which):
    from paddleclas_rdrop.tools.standalone.metrics import Metrics

    logits, targets, unknown, ratios = batch
    target = targets if which == "targets" else unknown  # PaddleClas counts a -1 target as a negative
    ours, theirs = Metrics([{"MultiLabelMAP": {"map_type": map_type}}], "Metric.Eval"), ppcls[1].MultiLabelMAP(map_type)
    labelled = Metrics([{"MultiLabelMAP": {"map_type": map_type}}], "Metric.Eval")  # on label_ratio's [B, 2, L]
    for part in np.split(np.arange(len(logits)), [5, 14]):
        x, y = paddle.to_tensor(logits[part] * scale), paddle.to_tensor(target[part])
        assert ours(x, y) == {} and theirs(x, y) == {}
        labelled(x, paddle.to_tensor(np.stack([target[part], ratios[part]], axis=1)))
    key = f"MultiLabelMAP({map_type})"  # the name PaddleClas logs it under
    assert ours.main_key == key and list(ours.summary()) == [key]
    assert ours.summary()[key] == pytest.approx(theirs.avg, rel=1e-12) and 0 < theirs.avg < 1
    assert labelled.summary() == ours.summary()
    ours.reset()
    assert ours.summary() == {key: 0.0}
