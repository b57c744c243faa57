"""`core.targets.multilabel_targets`: the targets of both layouts of a multi-label batch, and every reader of them
(`LabelCalibration`, `RDropLoss`'s mask) giving the same values on a `label_ratio` batch ``[B, 2, L]`` as on its
targets ``[B, L]``."""

import numpy as np
import paddle
import pytest

from paddleclas_rdrop.core.label_calibration import LabelCalibration
from paddleclas_rdrop.core.loss import RDropLoss
from paddleclas_rdrop.core.targets import multilabel_targets


def batch(rows=8, labels=5, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.integers(-1, 2, (rows, labels)).astype("float32")
    ratios = np.broadcast_to(rng.random(labels), (rows, labels)).astype("float32")
    return rng.normal(size=(rows, labels)).astype("float32"), targets, np.stack([targets, ratios], axis=1)


@pytest.mark.parametrize("labels", [2, 5])  # 2: a [B, 2, 2] label_ratio batch
def test_the_targets_of_a_label_ratio_batch_are_its_first_row(labels):
    _, targets, both = batch(labels=labels)
    np.testing.assert_array_equal(multilabel_targets(both), targets)
    np.testing.assert_array_equal(multilabel_targets(targets), targets)
    np.testing.assert_array_equal(multilabel_targets(paddle.to_tensor(both)).numpy(), targets)


def test_label_calibration_reads_a_label_ratio_batch_as_its_targets():
    logits, targets, both = batch()
    plain, ratio = LabelCalibration(bins=15), LabelCalibration(bins=15)
    found = plain(paddle.to_tensor(logits), paddle.to_tensor(targets))
    given = ratio(paddle.to_tensor(logits), paddle.to_tensor(both))
    assert {key: float(value) for key, value in given.items()} == {key: float(value) for key, value in found.items()}
    assert ratio.summary() == plain.summary()
    np.testing.assert_array_equal(np.concatenate(ratio.targets), targets.astype(np.int64))


def test_the_rdrop_mask_of_a_label_ratio_batch_is_its_targets_below_zero():
    _, targets, both = batch()
    loss = RDropLoss(passes=2, distribution="bernoulli")
    twice = paddle.to_tensor(np.concatenate([both, both]))
    np.testing.assert_array_equal(loss.ignored(twice).numpy(), targets < 0)
