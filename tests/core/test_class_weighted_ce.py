"""`ClassWeightedCELoss` against a float64 NumPy reference: hard, smoothed and Mixup labels, its three reductions,
CELoss at weights of 1, and the mean over R-Drop's stacked passes."""

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import ClassWeightedCELoss, ConfigError
from paddleclas_rdrop.tools.standalone.losses import CELoss

rng = np.random.default_rng(3)
WEIGHTS = [0.5, 2.0, 1.0, 4.0]


def weighted_ce64(logits, target, weights, reduction="mean"):
    """The weighted cross-entropy of `target` ``[B, C]`` (rows summing to 1), in float64: each sample's CE
    times the weight of its target, their weighted mean, sum or the products."""
    from reference import log_softmax64

    ce = -(target * log_softmax64(logits)).sum(-1)
    weight = target @ np.asarray(weights, dtype=np.float64)
    if reduction == "none":
        return weight * ce
    return (weight * ce).sum() / (weight.sum() if reduction == "mean" else 1.0)


def batch(size=6, classes=4):
    logits = rng.normal(size=(size, classes)) * 3
    labels = rng.integers(0, classes, size=(size, 1))
    return logits, labels


def one_hot(labels, classes=4, epsilon=0.0):
    target = np.eye(classes)[labels.reshape(-1)]
    return target * (1 - epsilon) + epsilon / classes


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("epsilon", [None, 0.1])
def test_hard_labels_give_the_float64_reference(reduction, epsilon):
    logits, labels = batch()
    loss = ClassWeightedCELoss(WEIGHTS, epsilon=epsilon, reduction=reduction)
    got = loss(paddle.to_tensor(logits, "float32"), paddle.to_tensor(labels))["ClassWeightedCELoss"]
    want = weighted_ce64(logits, one_hot(labels, epsilon=epsilon or 0.0), WEIGHTS, reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_a_mixup_label_weighs_with_the_mix_of_its_classes_weights():
    logits, labels = batch()
    mixed = 0.7 * one_hot(labels) + 0.3 * one_hot(labels[::-1])
    got = ClassWeightedCELoss(WEIGHTS)(
        {"logits": paddle.to_tensor(logits, "float32")}, paddle.to_tensor(mixed, "float32")
    )
    np.testing.assert_allclose(float(got["ClassWeightedCELoss"]), weighted_ce64(logits, mixed, WEIGHTS), rtol=1e-5)


@pytest.mark.parametrize("epsilon, soft", [(None, False), (0.1, False), (0.1, True)])
def test_weights_of_one_give_celoss(epsilon, soft):
    logits, labels = batch()
    label = paddle.to_tensor(one_hot(labels) if soft else labels, "float32" if soft else "int64")
    x = paddle.to_tensor(logits, "float32")
    got = ClassWeightedCELoss([1.0] * 4, epsilon=epsilon)(x, label)["ClassWeightedCELoss"]
    np.testing.assert_allclose(float(got), float(CELoss(epsilon=epsilon)(x, label)["CELoss"]), rtol=1e-6)


def test_the_stacked_passes_of_rdrop_give_the_mean_of_each_pass_weighted_mean():
    """The train hook hands the loss k passes stacked pass-major with the labels repeated (`RDrop.repeat_labels`):
    the loss is then the mean over the passes, as CELoss's."""
    passes = [batch()[0] for _ in range(3)]
    labels = batch()[1]
    loss = ClassWeightedCELoss(WEIGHTS, epsilon=0.1)
    stacked = loss(paddle.to_tensor(np.concatenate(passes), "float32"), paddle.to_tensor(np.tile(labels, (3, 1))))
    per_pass = [weighted_ce64(logits, one_hot(labels, epsilon=0.1), WEIGHTS) for logits in passes]
    np.testing.assert_allclose(float(stacked["ClassWeightedCELoss"]), np.mean(per_pass), rtol=1e-5)


def test_the_weights_are_not_in_a_checkpoint():
    assert not ClassWeightedCELoss(WEIGHTS).state_dict()


@pytest.mark.parametrize(
    "weights, message",
    [
        ("balanced", "one weight per class from the train list"),
        ([1.0, -1.0], "a list of one number >= 0 per class, not all 0"),
        ([0, 0], "not all 0"),
        ([], "not all 0"),
        ([True, 1.0], "a list of one number"),
    ],
)
def test_bad_weights_are_refused(weights, message):
    with pytest.raises(ConfigError, match=message):
        ClassWeightedCELoss(weights)


def test_a_wrong_class_count_and_reduction_are_refused():
    with pytest.raises(ConfigError, match="reduction must be mean, sum or none"):
        ClassWeightedCELoss(WEIGHTS, reduction="batchmean")
    with pytest.raises(ConfigError, match="the model gives 3 classes but class_weights has 4"):
        ClassWeightedCELoss(WEIGHTS)(paddle.zeros([2, 3]), paddle.zeros([2, 1], "int64"))
