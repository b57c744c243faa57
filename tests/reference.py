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
    elementwise = (kl_pq + kl_qp) / 2
    if pad_mask is not None:
        elementwise = np.where(np.broadcast_to(pad_mask, elementwise.shape), 0.0, elementwise)
    total = elementwise.sum()
    if reduction == "batchmean":
        return total / elementwise.shape[0]
    if reduction == "mean":
        return total / elementwise.size
    return total


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
