import itertools

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import RDropLoss, compute_kl_loss

rng = np.random.default_rng(1)


def stacked(passes, batch=5, classes=10):
    return paddle.to_tensor(rng.normal(size=(passes * batch, classes)) * 2, "float32")


def test_two_passes_give_the_batchmean_symmetric_kl_under_one_key():
    x = stacked(2)
    out = RDropLoss()(x, None)
    assert list(out) == ["RDropLoss"]
    want = compute_kl_loss(x[:5], x[5:], reduction="batchmean")
    np.testing.assert_allclose(float(out["RDropLoss"]), float(want), rtol=1e-6)


def test_more_passes_give_the_mean_over_all_pairs():
    x = stacked(3)
    passes = [x[0:5], x[5:10], x[10:15]]
    want = np.mean([float(compute_kl_loss(p, q, reduction="sum")) for p, q in itertools.combinations(passes, 2)])
    got = RDropLoss(reduction="sum", passes=3)({"logits": x}, None)["RDropLoss"]
    np.testing.assert_allclose(float(got), want, rtol=1e-6)


def test_ce_on_stacked_passes_with_repeated_labels_is_the_mean_over_passes():
    """What a stock CELoss sees from the hook: the stacked passes and `RDrop.repeat_labels`, for
    hard and for soft (mixup) labels, with label smoothing; against a float64 NumPy reference."""
    from paddleclas_rdrop import RDrop
    from paddleclas_rdrop.tools.standalone.losses import CELoss

    from models import build
    from reference import log_softmax64

    rdrop = RDrop(build("SE_ResNet18_vd"), head_dropout=0.1)
    x = stacked(2)
    hard = rng.integers(0, 10, size=(5, 1))
    soft = rng.dirichlet(np.ones(10), size=5)
    for label, target in ((paddle.to_tensor(hard), np.eye(10)[hard[:, 0]]), (paddle.to_tensor(soft, "float32"), soft)):
        got = CELoss(epsilon=0.1)(x, rdrop.repeat_labels(label))["CELoss"]
        smoothed = target * 0.9 + 0.1 / 10
        per_pass = [-(smoothed * log_softmax64(part)).sum(axis=1).mean() for part in (x.numpy()[:5], x.numpy()[5:])]
        np.testing.assert_allclose(float(got), np.mean(per_pass), rtol=1e-5)


def test_rows_that_are_not_k_passes_are_refused():
    with pytest.raises(ValueError, match="multiple of passes=2"):
        RDropLoss()(paddle.zeros([5, 3]), None)


@pytest.mark.parametrize("kwargs", [{"reduction": "avg"}, {"passes": 1}, {"passes": 2.0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        RDropLoss(**kwargs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_passes_give_the_float32_kl(dtype):
    x = stacked(2) * 1000  # logit gaps in the thousands
    half = x.astype(dtype)
    from reference import symmetric_kl64

    got = RDropLoss()(half, None)["RDropLoss"]
    values = half.astype("float32").numpy().astype(np.float64)  # the half values, exactly
    want = symmetric_kl64(values[:5], values[5:], reduction="batchmean")
    assert got.dtype == paddle.float32 and np.isfinite(float(got))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
