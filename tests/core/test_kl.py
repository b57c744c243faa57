import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from paddleclas_rdrop import compute_bernoulli_kl_loss, compute_kl_loss

from reference import bernoulli_symmetric_kl64, symmetric_kl64

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


# compute_bernoulli_kl_loss: multi-label (sigmoid) outputs, against the float64 definition of the KL


def bernoulli(p, q, dtype="float32", **kwargs):
    """compute_bernoulli_kl_loss of numpy logits given to paddle in `dtype`, and the float64 reference of
    the values the tensors hold."""
    p_t, q_t = (paddle.to_tensor(np.asarray(x, np.float32)).astype(dtype) for x in (p, q))
    got = compute_bernoulli_kl_loss(p_t, q_t, **kwargs)
    mask = kwargs.get("pad_mask")
    mask = (
        None
        if mask is None
        else np.broadcast_to(mask.numpy().reshape(mask.shape + [1] * (p_t.ndim - mask.ndim)), p_t.shape)
    )
    values = [x.astype("float32").numpy() for x in (p_t, q_t)]
    want = bernoulli_symmetric_kl64(*values, pad_mask=mask, reduction=kwargs.get("reduction", "sum"))
    assert got.dtype == paddle.float32 and got.shape == []
    return float(got), want


@pytest.mark.parametrize("reduction", ["sum", "batchmean", "mean"])
def test_bernoulli_matches_the_float64_definition(reduction):
    got, want = bernoulli(rng.normal(size=(6, 26)) * 3, rng.normal(size=(6, 26)) * 3, reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_bernoulli_reductions_divide_the_sum_by_batch_and_by_elements():
    p, q = (paddle.to_tensor(rng.normal(size=(4, 5)), "float32") for _ in range(2))
    total = float(compute_bernoulli_kl_loss(p, q, reduction="sum"))
    np.testing.assert_allclose(float(compute_bernoulli_kl_loss(p, q, reduction="batchmean")), total / 4, rtol=1e-6)
    np.testing.assert_allclose(float(compute_bernoulli_kl_loss(p, q, reduction="mean")), total / 20, rtol=1e-6)


def test_bernoulli_is_not_the_softmax_kl_on_a_26_attribute_batch():
    """The same logits read as 26 independent attributes and as one 26-way class: two different KLs."""
    p, q = rng.normal(size=(8, 26)) * 2, rng.normal(size=(8, 26)) * 2
    p_t, q_t = paddle.to_tensor(p, "float32"), paddle.to_tensor(q, "float32")
    multi, single = float(compute_bernoulli_kl_loss(p_t, q_t)), float(compute_kl_loss(p_t, q_t))
    np.testing.assert_allclose(multi, bernoulli_symmetric_kl64(p_t.numpy(), q_t.numpy()), rtol=1e-5)
    np.testing.assert_allclose(single, symmetric_kl64(p_t.numpy(), q_t.numpy()), rtol=1e-5)
    assert abs(multi - single) > 0.1 * max(multi, single)
    # a shift of every logit of a sample changes the multi-label outputs, not the softmax one
    shifted = q_t + 3.0
    assert float(compute_kl_loss(q_t, shifted)) < 1e-5 < float(compute_bernoulli_kl_loss(q_t, shifted))


@pytest.mark.parametrize(
    "p, q",
    [
        ([[1e4, -1e4, 1e4, -1e4]], [[-1e4, 1e4, 1e4 - 3, -1e4 + 3]]),  # opposite signs; same sign, 3 apart
        ([[20.0, 18.0, 35.0, 60.0]], [[18.0, 20.0, 30.0, 59.5]]),  # sigmoid(a) - sigmoid(b) rounds to 0
        ([[-20.0, -18.0, -35.0, -60.0]], [[-18.0, -20.0, -30.0, -59.5]]),
        ([[1e-3, 0.5, -2.0, 0.0]], [[1.001e-3, 0.5001, -2.0001, 1e-6]]),  # close logits
    ],
    ids=["1e4", "large-positive", "large-negative", "close"],
)
def test_bernoulli_is_relatively_exact_for_large_and_close_logits(p, q):
    got, want = bernoulli(p, q)
    assert want > 0
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_bernoulli_of_opposite_logits_of_1e4_is_the_gap_and_has_finite_gradients():
    p = paddle.to_tensor([[1e4, -1e4, 1e4, 5.0]], stop_gradient=False)
    q = paddle.to_tensor([[-1e4, 1e4, 1e4 - 3, -1e4]], stop_gradient=False)
    loss = compute_bernoulli_kl_loss(p, q)
    np.testing.assert_allclose(float(loss), (2e4 + 2e4 + (1e4 + 5) * (1 - 1 / (1 + np.exp(5)))) / 2, rtol=1e-6)
    loss.backward()
    for tensor in (p, q):
        assert np.isfinite(tensor.grad.numpy()).all()
    np.testing.assert_allclose(p.grad.numpy()[0, :2], [0.5, -0.5], rtol=1e-6)  # d/da (P - Q)(a - b) / 2


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_bernoulli_takes_half_precision_logits_and_gives_float32(dtype, scale):
    p, q = rng.normal(size=(4, 26)) * scale, rng.normal(size=(4, 26)) * scale
    got, want = bernoulli(p, q, dtype=dtype, reduction="batchmean")
    assert np.isfinite(got) and want > 0
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_bernoulli_gradient_matches_finite_differences_of_the_definition():
    p = rng.normal(size=(3, 5)) * 2
    q = rng.normal(size=(3, 5)) * 2
    p[0, 0], q[0, 1] = 0.0, 0.0  # a logit of exactly 0 against another one
    p_t = paddle.to_tensor(p, "float32", stop_gradient=False)
    q_t = paddle.to_tensor(q, "float32", stop_gradient=False)
    compute_bernoulli_kl_loss(p_t, q_t, reduction="batchmean").backward()
    p, q = p_t.numpy().astype(np.float64), q_t.numpy().astype(np.float64)
    step = 1e-6
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += step
        down[index] -= step
        numeric = (
            bernoulli_symmetric_kl64(up, q, reduction="batchmean")
            - bernoulli_symmetric_kl64(down, q, reduction="batchmean")
        ) / (2 * step)
        np.testing.assert_allclose(p_t.grad.numpy()[index], numeric, rtol=1e-3, atol=1e-6)
    # the value is symmetric in p and q: q's gradient is p's with the passes swapped
    p2, q2 = (paddle.to_tensor(x, "float32", stop_gradient=False) for x in (q, p))
    compute_bernoulli_kl_loss(p2, q2, reduction="batchmean").backward()
    np.testing.assert_allclose(q_t.grad.numpy(), p2.grad.numpy(), rtol=1e-6)


def test_bernoulli_masks_the_labels_a_target_of_minus_one_ignores():
    p, q = rng.normal(size=(6, 26)) * 2, rng.normal(size=(6, 26)) * 2
    target = rng.integers(0, 2, size=(6, 26)).astype(np.float32)
    target[rng.random((6, 26)) < 0.3] = -1  # unlabelled attributes, weight 0 in MultiLabelLoss
    mask = paddle.to_tensor(target == -1)
    p[target == -1], q[target == -1] = np.nan, np.inf  # whatever the logits of an ignored label
    p_t = paddle.to_tensor(p, "float32", stop_gradient=False)
    q_t = paddle.to_tensor(q, "float32", stop_gradient=False)
    total = compute_bernoulli_kl_loss(p_t, q_t, pad_mask=mask)
    kept = target != -1
    want = bernoulli_symmetric_kl64(p_t.numpy()[kept], q_t.numpy()[kept])
    np.testing.assert_allclose(float(total), want, rtol=1e-5)
    total.backward()
    for tensor in (p_t, q_t):
        grad = tensor.grad.numpy()
        assert np.isfinite(grad).all() and (grad[~kept] == 0).all() and (grad[kept] != 0).all()
    # batchmean and mean keep the masked labels in their divisors, as MultiLabelLoss's mean does
    batchmean = float(compute_bernoulli_kl_loss(p_t, q_t, pad_mask=mask, reduction="batchmean"))
    mean = float(compute_bernoulli_kl_loss(p_t, q_t, pad_mask=mask, reduction="mean"))
    np.testing.assert_allclose([batchmean, mean], [want / 6, want / (6 * 26)], rtol=1e-5)


@pytest.mark.parametrize("reduction", ["sum", "batchmean", "mean"])
def test_bernoulli_mask_of_whole_samples_or_broadcast(reduction):
    p, q = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    samples = np.array([True, False, False, True, False])
    got, want = bernoulli(p, q, pad_mask=paddle.to_tensor(samples), reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    labels = np.array([[False, True, False, False, True, False, False]])  # [1, L]: two labels everywhere
    got_labels, want_labels = bernoulli(p, q, pad_mask=paddle.to_tensor(labels), reduction=reduction)
    np.testing.assert_allclose(got_labels, want_labels, rtol=1e-5)
    unmasked, _ = bernoulli(p, q, reduction=reduction)
    assert 0 < got < unmasked and 0 < got_labels < unmasked


def test_bernoulli_mask_that_fits_no_way_and_unknown_reduction_are_errors():
    from paddleclas_rdrop.core.errors import ConfigError

    p = paddle.zeros([4, 5])
    with pytest.raises(ConfigError, match=r"compute_bernoulli_kl_loss: pad_mask of shape \[3\] fits neither"):
        compute_bernoulli_kl_loss(p, p, pad_mask=paddle.to_tensor([True, False, True]))
    with pytest.raises(ConfigError, match="compute_bernoulli_kl_loss: reduction must be one of"):
        compute_bernoulli_kl_loss(p, p, reduction="avg")


def test_bernoulli_infinite_logits_give_zero_when_equal_and_inf_when_one_sided():
    inf = float("inf")
    p = paddle.to_tensor([[inf, -inf, 0.5], [2.0, inf, -inf]], stop_gradient=False)
    q = paddle.to_tensor([[inf, -inf, -1.0], [-0.5, inf, -inf]], stop_gradient=False)
    loss = compute_bernoulli_kl_loss(p, q)
    np.testing.assert_allclose(float(loss), bernoulli_symmetric_kl64([[0.5, 2.0]], [[-1.0, -0.5]]), rtol=1e-6)
    loss.backward()
    for tensor in (p, q):
        grad = tensor.grad.numpy()
        assert np.isfinite(grad).all() and grad[0, 0] == grad[0, 1] == grad[1, 1] == grad[1, 2] == 0
    for one_sided in (inf, -inf):
        other = paddle.to_tensor([[one_sided, 0.0]])
        assert float(compute_bernoulli_kl_loss(other, paddle.to_tensor([[3.0, 0.0]]))) == inf
    assert float(compute_bernoulli_kl_loss(paddle.to_tensor([[inf]]), paddle.to_tensor([[-inf]]))) == inf
    assert np.isnan(float(compute_bernoulli_kl_loss(paddle.to_tensor([[float("nan")]]), paddle.zeros([1, 1]))))


@settings(max_examples=80, deadline=None)
@given(
    st.tuples(st.integers(1, 4), st.integers(1, 8)).flatmap(
        lambda shape: st.tuples(
            arrays(np.float32, shape, elements=st.floats(-1e4, 1e4, width=32)),
            arrays(np.float32, shape, elements=st.floats(-1e4, 1e4, width=32)),
            arrays(np.float32, shape, elements=st.sampled_from([0.0, 2.0**-20, 2.0**-10, 1.0, 2.0**13])),
            arrays(np.bool_, shape),
        )
    ),
    st.sampled_from(["sum", "batchmean", "mean"]),
)
def test_bernoulli_property_any_shape_and_magnitude(case, reduction):
    """q is p plus a difference of any size: the same-sign large logits and the close ones come often."""
    p, noise, scale, masked = case
    q = (p + noise * scale).astype(np.float32)
    tensors = [paddle.to_tensor(x, stop_gradient=False) for x in (p, q)]
    got = compute_bernoulli_kl_loss(*tensors, pad_mask=paddle.to_tensor(masked), reduction=reduction)
    want = bernoulli_symmetric_kl64(p, q, pad_mask=masked, reduction=reduction)
    # the reference's own cancellation error (see bernoulli_symmetric_kl64), and float32's underflow
    atol = 1e-15 * np.abs(p.astype(np.float64) - q).sum() + 1e-30
    np.testing.assert_allclose(float(got), want, rtol=2e-5, atol=atol)
    assert float(got) >= 0
    got.backward()
    for tensor in tensors:
        grad = tensor.grad.numpy()
        assert np.isfinite(grad).all() and (grad[masked] == 0).all()
