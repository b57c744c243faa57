import itertools

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import ConfigError, RDropLoss, compute_kl_loss

rng = np.random.default_rng(1)


def stacked(passes, batch=5, classes=10):
    return paddle.to_tensor(rng.normal(size=(passes * batch, classes)) * 2, "float32")


def test_two_passes_give_the_batchmean_symmetric_kl_under_one_key():
    x = stacked(2)
    out = RDropLoss(passes=2)(x, None)
    assert list(out) == ["RDropLoss"]
    want = compute_kl_loss(x[:5], x[5:], reduction="batchmean")
    np.testing.assert_allclose(float(out["RDropLoss"]), float(want), rtol=1e-6)


def test_more_passes_give_the_mean_over_all_pairs():
    x = stacked(3)
    passes = [x[0:5], x[5:10], x[10:15]]
    want = np.mean([float(compute_kl_loss(p, q, reduction="sum")) for p, q in itertools.combinations(passes, 2)])
    got = RDropLoss(reduction="sum", passes=3)({"logits": x}, None)["RDropLoss"]
    np.testing.assert_allclose(float(got), want, rtol=1e-6)


def test_rows_that_are_not_k_passes_are_refused():
    with pytest.raises(ValueError, match="multiple of passes=2"):
        RDropLoss(passes=2)(paddle.zeros([5, 3]), None)


def test_k_has_no_default_and_one_k_only():
    """k = 3 stacked in an even batch would split into 2 wrong halves under a default of 2: no default."""
    with pytest.raises(ConfigError, match="the number of passes k is not known"):
        RDropLoss()(stacked(3, batch=4), None)
    loss = RDropLoss()
    loss.set_passes(3)  # what the adapter does with RDrop.passes
    assert float(loss(stacked(3, batch=4), None)["RDropLoss"]) > 0
    with pytest.raises(ConfigError, match="built with passes=2, but the runner has 3 passes"):
        RDropLoss(passes=2).set_passes(3)


@pytest.mark.parametrize("kwargs", [{"reduction": "avg"}, {"passes": 1}, {"passes": 2.0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        RDropLoss(**kwargs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_passes_give_the_float32_kl(dtype):
    x = stacked(2) * 1000  # logit gaps in the thousands
    half = x.astype(dtype)
    from reference import symmetric_kl64

    got = RDropLoss(passes=2)(half, None)["RDropLoss"]
    values = half.astype("float32").numpy().astype(np.float64)  # the half values, exactly
    want = symmetric_kl64(values[:5], values[5:], reduction="batchmean")
    assert got.dtype == paddle.float32 and np.isfinite(float(got))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
