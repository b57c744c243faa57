import itertools

import numpy as np
import paddle
import pytest

from paddleclas_rdrop import ConfigError, RDropLoss, compute_bernoulli_kl_loss, compute_kl_loss

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


def test_bernoulli_distribution_gives_the_multi_label_kl_of_the_pairs():
    x = stacked(3, classes=26)
    passes = [x[0:5], x[5:10], x[10:15]]
    pairs = list(itertools.combinations(passes, 2))
    want = np.mean([float(compute_bernoulli_kl_loss(p, q, reduction="batchmean")) for p, q in pairs])
    got = float(RDropLoss(passes=3, distribution="bernoulli")(x, None)["RDropLoss"])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    softmax = float(RDropLoss(passes=3)(x, None)["RDropLoss"])  # the default reads the logits as one class
    np.testing.assert_allclose(
        softmax, np.mean([float(compute_kl_loss(p, q, reduction="batchmean")) for p, q in pairs]), rtol=1e-6
    )
    assert abs(got - softmax) > 0.1 * softmax


def test_bernoulli_half_precision_passes_give_the_float32_kl():
    from reference import bernoulli_symmetric_kl64

    half = (stacked(2, classes=26) * 1000).astype("float16")
    got = RDropLoss(passes=2, distribution="bernoulli")(half, None)["RDropLoss"]
    values = half.astype("float32").numpy()
    want = bernoulli_symmetric_kl64(values[:5], values[5:], reduction="batchmean")
    assert got.dtype == paddle.float32 and np.isfinite(float(got))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


@pytest.mark.parametrize("distribution", ["sigmoid", "Bernoulli", None, ["bernoulli"]])
def test_an_unknown_distribution_is_one_error_naming_the_allowed_ones(distribution):
    with pytest.raises(ConfigError, match=r"RDropLoss: distribution must be one of \('softmax', 'bernoulli'\)"):
        RDropLoss(passes=2, distribution=distribution)


def test_a_multilabel_kl_does_not_compare_the_labels_its_targets_ignore():
    """Targets of -1 (PaddleClas's MultiLabelLoss weighs them 0) are left out of the Bernoulli KL, in both label
    layouts ([k*B, L], and [k*B, 2, L] with ratios); the value is the reference's over the other labels."""
    from reference import bernoulli_symmetric_kl64

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 3, (4, 6)), rng.normal(0, 3, (4, 6))
    targets = rng.integers(0, 2, (4, 6)).astype("int64")
    targets[rng.random((4, 6)) < 0.3] = -1
    kept = targets >= 0
    loss = RDropLoss(passes=2, distribution="bernoulli", reduction="sum")
    logits = paddle.to_tensor(np.concatenate([a, b]).astype("float32"))
    label = paddle.to_tensor(np.concatenate([targets, targets]))
    with_ratio = paddle.to_tensor(np.stack([np.concatenate([targets, targets])] * 2, axis=1))
    expected = float(bernoulli_symmetric_kl64(a, b, pad_mask=~kept, reduction="sum"))
    for given in (label, with_ratio):
        value = float(loss(logits, given)["RDropLoss"])
        assert abs(value - expected) < 1e-4 * max(1.0, expected), (value, expected)
    assert float(loss(logits)["RDropLoss"]) > expected + 1e-3  # without the label every pair counts
