import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddleclas_rdrop import compute_kl_loss

from reference import symmetric_kl64

rng = np.random.default_rng(0)


def article_kl(p, q, pad_mask=None):
    """The R-Drop article's PaddlePaddle compute_kl_loss, as published."""
    p_loss = F.kl_div(F.log_softmax(p, axis=-1), F.softmax(q, axis=-1), reduction="none")
    q_loss = F.kl_div(F.log_softmax(q, axis=-1), F.softmax(p, axis=-1), reduction="none")
    if pad_mask is not None:
        p_loss = paddle.where(pad_mask, paddle.zeros_like(p_loss), p_loss)
        q_loss = paddle.where(pad_mask, paddle.zeros_like(q_loss), q_loss)
    return (p_loss.sum() + q_loss.sum()) / 2


@pytest.mark.parametrize("reduction", ["sum", "batchmean", "mean"])
def test_matches_float64_reference(reduction):
    p, q = rng.normal(size=(6, 10)) * 3, rng.normal(size=(6, 10)) * 3
    got = compute_kl_loss(paddle.to_tensor(p, "float32"), paddle.to_tensor(q, "float32"), reduction=reduction)
    want = symmetric_kl64(p.astype(np.float32), q.astype(np.float32), reduction=reduction)
    assert got.dtype == paddle.float32 and got.shape == []
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_reductions_divide_the_sum_by_batch_and_by_elements():
    p, q = (paddle.to_tensor(rng.normal(size=(4, 5)), "float32") for _ in range(2))
    total = float(compute_kl_loss(p, q, reduction="sum"))
    np.testing.assert_allclose(float(compute_kl_loss(p, q, reduction="batchmean")), total / 4, rtol=1e-6)
    np.testing.assert_allclose(float(compute_kl_loss(p, q, reduction="mean")), total / 20, rtol=1e-6)


def test_equals_the_articles_formula_with_and_without_pad_mask():
    p, q = (paddle.to_tensor(rng.normal(size=(8, 10)) * 2, "float32") for _ in range(2))
    np.testing.assert_allclose(float(compute_kl_loss(p, q)), float(article_kl(p, q)), rtol=1e-5)
    mask = paddle.to_tensor(rng.random((8, 1)) < 0.4)
    masked = float(compute_kl_loss(p, q, pad_mask=mask))
    np.testing.assert_allclose(masked, float(article_kl(p, q, paddle.broadcast_to(mask, p.shape))), rtol=1e-5)
    np.testing.assert_allclose(masked, symmetric_kl64(p.numpy(), q.numpy(), mask.numpy()), rtol=1e-5)
    assert 0 < masked < float(compute_kl_loss(p, q))


def test_identical_logits_give_zero():
    p = paddle.to_tensor(rng.normal(size=(3, 7)), "float32")
    assert float(compute_kl_loss(p, p.clone())) == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("gap", [100.0, 1e3, 1e4])
def test_exact_for_huge_class_gaps_in_every_float_dtype(dtype, gap):
    p = rng.normal(size=(4, 10))
    q = rng.normal(size=(4, 10))
    p[:, 0] += gap
    q[:, 1] += gap
    p_t, q_t = paddle.to_tensor(p, "float32").astype(dtype), paddle.to_tensor(q, "float32").astype(dtype)
    got = compute_kl_loss(p_t, q_t, reduction="batchmean")
    # the reference sees the very values the low-precision tensors hold
    want = symmetric_kl64(p_t.astype("float32").numpy(), q_t.astype("float32").numpy(), reduction="batchmean")
    assert got.dtype == paddle.float32 and np.isfinite(float(got))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    assert want > gap * 0.9  # two near point masses `gap` apart: the KL is about the gap


def test_gradient_matches_finite_differences():
    p = rng.normal(size=(3, 5)) * 2
    q = rng.normal(size=(3, 5)) * 2
    p_t = paddle.to_tensor(p, "float32", stop_gradient=False)
    q_t = paddle.to_tensor(q, "float32", stop_gradient=False)
    compute_kl_loss(p_t, q_t, reduction="batchmean").backward()
    step = 1e-6
    for tensor, grad, other, first in ((p, p_t.grad, q, True), (q, q_t.grad, p, False)):
        numeric = np.zeros_like(tensor)
        for index in np.ndindex(tensor.shape):
            up, down = tensor.copy(), tensor.copy()
            up[index] += step
            down[index] -= step
            args_up = (up, other) if first else (other, up)
            args_down = (down, other) if first else (other, down)
            numeric[index] = (
                symmetric_kl64(*args_up, reduction="batchmean") - symmetric_kl64(*args_down, reduction="batchmean")
            ) / (2 * step)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-3, atol=1e-6)


def test_unknown_reduction_is_refused():
    p = paddle.zeros([2, 3])
    with pytest.raises(ValueError, match="reduction"):
        compute_kl_loss(p, p, reduction="avg")
