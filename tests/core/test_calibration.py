"""Calibration (ECE, NLL) against a float64 NumPy reference, accumulated over batches."""

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import ConfigError
from paddleclas_rdrop.core.calibration import Calibration

from reference import calibration64


def test_ece_and_nll_over_several_batches_match_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(250, 7)) * 3
    labels = np.where(rng.random(250) < 0.7, logits.argmax(axis=1), rng.integers(0, 7, size=250))
    metric = Calibration(bins=15)
    for start in range(0, 250, 64):  # batches of 64, 64, 64, 58
        out = metric(
            paddle.to_tensor(logits[start : start + 64], "float32"), paddle.to_tensor(labels[start : start + 64, None])
        )
        assert set(out) == {"ECE", "NLL"}
    want_ece, want_nll = calibration64(logits.astype(np.float32), labels, bins=15)
    got = metric.summary()
    np.testing.assert_allclose(got["ECE"], want_ece, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["NLL"], want_nll, rtol=1e-5)
    assert metric.avg == got["ECE"] and metric.avg_info.startswith("ECE: ")
    first = metric({"logits": paddle.to_tensor(logits[:64], "float32")}, paddle.to_tensor(labels[:64, None]))
    metric.reset()
    metric(paddle.to_tensor(logits[:64], "float32"), paddle.to_tensor(labels[:64, None]))
    np.testing.assert_allclose(metric.summary()["ECE"], float(first["ECE"]), rtol=1e-6)


def test_a_confident_right_classifier_is_calibrated_and_an_overconfident_one_is_not():
    labels = paddle.to_tensor(np.arange(10)[:, None] % 3)
    right = paddle.to_tensor(np.eye(3)[np.arange(10) % 3] * 50.0, "float32")
    metric = Calibration()
    metric(right, labels)
    assert metric.summary()["ECE"] < 1e-6
    wrong = paddle.to_tensor(np.eye(3)[(np.arange(10) + 1) % 3] * 50.0, "float32")
    metric.reset()
    metric(wrong, labels)
    assert metric.summary()["ECE"] > 0.99 and metric.summary()["NLL"] > 40


@pytest.mark.parametrize("bins", [0, 2.5, True])
def test_bad_bins_are_refused(bins):
    with pytest.raises(ConfigError, match="Calibration.bins"):
        Calibration(bins=bins)
