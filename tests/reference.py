"""Float64 NumPy references, independent of Paddle."""

import numpy as np


def log_softmax64(logits):
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def symmetric_kl64(p_logits, q_logits, pad_mask=None, reduction="sum"):
    """(KL(P||Q) + KL(Q||P)) / 2 of the softmax distributions, in float64."""
    log_p, log_q = log_softmax64(p_logits), log_softmax64(q_logits)
    kl_pq = np.exp(log_p) * (log_p - log_q)
    kl_qp = np.exp(log_q) * (log_q - log_p)
    return reduced64((kl_pq + kl_qp) / 2, pad_mask, reduction)


def reduced64(elementwise, pad_mask=None, reduction="sum"):
    """The sum of `elementwise` without the positions `pad_mask` marks, divided by nothing (``sum``), the
    batch (``batchmean``) or the number of elements, masked ones included (``mean``)."""
    if pad_mask is not None:
        elementwise = np.where(np.broadcast_to(pad_mask, elementwise.shape), 0.0, elementwise)
    total = elementwise.sum()
    if reduction == "batchmean":
        return total / elementwise.shape[0]
    if reduction == "mean":
        return total / elementwise.size
    return total


def log_sigmoid64(logits):
    """log sigmoid(x) = -log(1 + exp(-x)), exact for any float64 x (-inf at -inf, 0 at +inf)."""
    return -np.logaddexp(0.0, -np.asarray(logits, dtype=np.float64))


def log_ratio64(a, b):
    """log(sigmoid(a) / sigmoid(b)), elementwise in float64. Close logits (|a - b| < 1) take
    log1p(sigmoid(-a) * expm1(a - b)), relatively exact where the difference of the two logs cancels;
    equal ones (infinite ones too) give 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf, discarded below
        gap = a - b
        close = np.abs(gap) < 1
        near = np.log1p(np.exp(log_sigmoid64(-a)) * np.expm1(np.where(close, gap, 0.0)))
        far = log_sigmoid64(a) - log_sigmoid64(b)
    return np.where(a == b, 0.0, np.where(close, near, far))


def bernoulli_kl64(a, b):
    """KL(P||Q) per label from its definition, P = sigmoid(a), Q = sigmoid(b):
    P log(P/Q) + (1 - P) log((1 - P)/(1 - Q)), with 0 log(0/x) = 0; 1 - sigmoid(x) = sigmoid(-x)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    terms = 0.0
    for x, y in ((a, b), (-a, -b)):  # the label's two outcomes
        weight = np.exp(log_sigmoid64(x))
        with np.errstate(invalid="ignore"):  # 0 * inf, discarded
            terms = terms + np.where(weight == 0, 0.0, weight * log_ratio64(x, y))
    return terms


def bernoulli_symmetric_kl64(a_logits, b_logits, pad_mask=None, reduction="sum"):
    """(KL(P||Q) + KL(Q||P)) / 2 of the per-label Bernoulli distributions of multi-label logits, summed over
    labels (independent), in float64 from the KL's definition. The definition's terms cancel to second
    order in a - b: float64 leaves an absolute error of about 1e-16 * |a - b| per label."""
    return reduced64((bernoulli_kl64(a_logits, b_logits) + bernoulli_kl64(b_logits, a_logits)) / 2, pad_mask, reduction)


def calibration64(logits, labels, bins=15):
    """(ECE, NLL) in float64: ECE over `bins` equal-width bins of the top-1 confidence (Guo et al. 2017),
    NLL the mean negative log-probability of the label."""
    log_p = log_softmax64(logits)
    confidence, predicted = np.exp(log_p.max(axis=1)), log_p.argmax(axis=1)
    correct = predicted == labels
    ece = 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence >= low) & ((confidence < high) if high < 1 else (confidence <= high))
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return ece, -log_p[np.arange(len(labels)), labels].mean()
