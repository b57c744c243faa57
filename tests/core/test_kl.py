import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

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


def masked_reference(p, q, masked):
    """The float64 symmetric KL of the logits without the classes `masked` ([B, C] bool), summed."""
    total = 0.0
    for row_p, row_q, row_masked in zip(p, q, masked):
        kept = ~row_masked
        if kept.any():
            total += symmetric_kl64(row_p[None, kept], row_q[None, kept])
    return total


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda rows: st.tuples(
            arrays(np.float32, (rows, 6), elements=st.floats(-30, 30, width=32)),
            arrays(np.float32, (rows, 6), elements=st.floats(-30, 30, width=32)),
            arrays(np.bool_, (rows, 6)),
        )
    )
)
def test_classes_masked_with_minus_inf_in_both_passes_add_nothing(case):
    p, q, masked = case
    p, q = np.where(masked, -np.inf, p).astype(np.float32), np.where(masked, -np.inf, q).astype(np.float32)
    tensors = [paddle.to_tensor(x, stop_gradient=False) for x in (p, q)]
    got = compute_kl_loss(*tensors)
    np.testing.assert_allclose(float(got), masked_reference(p, q, masked), rtol=1e-4, atol=1e-5)
    got.backward()
    for tensor in tensors:
        assert np.isfinite(tensor.grad.numpy()).all()


def test_the_issues_masked_class_gives_the_value_over_the_other_classes():
    p = paddle.to_tensor([[2.0, 0.5, float("-inf")], [0.1, 1.5, float("-inf")]])
    q = paddle.to_tensor([[0.3, 1.9, float("-inf")], [1.2, -0.4, float("-inf")]])
    want = symmetric_kl64(p.numpy()[:, :2], q.numpy()[:, :2])
    np.testing.assert_allclose(float(compute_kl_loss(p, q)), want, rtol=1e-5)
    one_sided = paddle.to_tensor([[2.0, 0.5, 0.0], [0.1, 1.5, float("-inf")]])
    assert float(compute_kl_loss(one_sided, q)) == float("inf")  # an infinite divergence, said as one


@pytest.mark.parametrize("shape", [(4, 3, 5), (4, 5)])
def test_a_mask_of_the_leading_axes_masks_whole_samples_or_positions(shape):
    p, q = (paddle.to_tensor(rng.normal(size=shape), "float32") for _ in range(2))
    leading = rng.random(shape[:-1]) < 0.5
    full = np.broadcast_to(leading[..., None], shape)
    got = float(compute_kl_loss(p, q, pad_mask=paddle.to_tensor(leading)))
    np.testing.assert_allclose(got, float(compute_kl_loss(p, q, pad_mask=paddle.to_tensor(full))), rtol=1e-6)
    np.testing.assert_allclose(got, symmetric_kl64(p.numpy(), q.numpy(), full), rtol=1e-5)


def test_a_mask_that_fits_no_way_is_one_error():
    from paddleclas_rdrop.core.errors import ConfigError

    p = paddle.zeros([4, 5])
    with pytest.raises(ConfigError, match=r"pad_mask of shape \[3\] fits neither the logits' shape \[4, 5\]"):
        compute_kl_loss(p, p, pad_mask=paddle.to_tensor([True, False, True]))


def test_a_nan_or_plus_inf_logit_stays_non_finite_for_the_guards():
    q = paddle.zeros([2, 3])
    for bad in (float("nan"), float("inf")):
        p = paddle.to_tensor([[0.0, bad, 0.0], [0.0, 0.0, 0.0]])
        assert not np.isfinite(float(compute_kl_loss(p, q)))
