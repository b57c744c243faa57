"""The symmetric KL divergence of R-Drop, exact for any logits and any float dtype."""

import paddle

from .errors import ConfigError

KL_REDUCTIONS = ("sum", "batchmean", "mean")


def check_reduction(reduction, owner="compute_kl_loss"):
    """`reduction` if it is one of `KL_REDUCTIONS`; raises `ConfigError` naming `owner`."""
    if reduction not in KL_REDUCTIONS:
        raise ConfigError(
            f"{owner}: reduction must be one of {KL_REDUCTIONS} (batchmean keeps alpha per sample), got {reduction!r}"
        )
    return reduction


def _log_softmax(logits):
    """x - logsumexp(x): Paddle's CPU `F.log_softmax` clips log-probabilities at -64. A row without a
    finite logit (every class masked with -inf) gets -inf everywhere (probability 0) and a zero
    gradient, not NaN."""
    empty = paddle.max(logits, axis=-1, keepdim=True) == float("-inf")  # +inf and NaN stay non-finite
    safe = paddle.where(empty, paddle.zeros_like(logits), logits)
    log_p = safe - paddle.logsumexp(safe, axis=-1, keepdim=True)
    return paddle.where(empty, paddle.full_like(logits, float("-inf")), log_p)


def _mask_like(pad_mask, shape):
    """`pad_mask` as a bool tensor of `shape`: broadcast as numpy does, or, when its shape is the leading
    axes of `shape` (``[B]`` or ``[B, T]`` for logits ``[B, T, C]``), over the trailing axes."""
    mask = pad_mask.astype("bool")
    leading = list(mask.shape) == list(shape[: mask.ndim])
    if leading and mask.ndim < len(shape):
        mask = mask.reshape(list(mask.shape) + [1] * (len(shape) - mask.ndim))
    try:
        return paddle.broadcast_to(mask, shape)
    except ValueError:
        raise ConfigError(
            f"compute_kl_loss: pad_mask of shape {list(pad_mask.shape)} fits neither the logits' shape "
            f"{list(shape)} nor its leading axes"
        ) from None


def compute_kl_loss(p, q, pad_mask=None, reduction="sum"):
    """(KL(P||Q) + KL(Q||P)) / 2 between the softmax distributions of logits `p` and `q`, R-Drop's
    regulariser (Liang et al., NeurIPS 2021; the signature and ``sum`` value of the R-Drop article's
    PaddlePaddle function).

    Args:
        p, q: logits ``[B, C]`` (any float dtype; or ``[B, T, C]`` with a mask), the same shape.
        pad_mask: optional bool tensor, broadcastable to ``p`` or of the shape of its leading axes
            (``[B]``: whole samples; ``[B, T]`` for ``[B, T, C]``); True marks a position to ignore.
        reduction: ``sum`` (both directions summed over batch and classes, then halved),
            ``batchmean`` (that sum divided by ``p.shape[0]``: alpha stays per sample whatever the
            batch) or ``mean`` (divided by the number of elements).

    Returns:
        A float32 scalar tensor, in nats, whatever the input dtype.

    Raises:
        ConfigError: an unknown ``reduction``, or a ``pad_mask`` whose shape fits neither way.

    The two directions add up to ``sum((P - Q) * (log P - log Q))``, computed in float32 from
    log-probabilities: no ``log(0)``, no overflow for fp16/bf16 logits, and exact for class gaps
    of thousands, where ``F.kl_div`` on softmax outputs is not. A class that both passes give
    probability 0 (a logit of -inf in both: a masked class) adds 0, as 0 log 0 = 0 in the KL's
    definition, to the value and to the gradient; one pass's -inf against the other's finite logit
    is an infinite divergence, and is returned as one.
    """
    check_reduction(reduction)
    log_p = _log_softmax(p.astype("float32"))
    log_q = _log_softmax(q.astype("float32"))
    prob_p, prob_q = paddle.exp(log_p), paddle.exp(log_q)
    ignored = (prob_p == 0) & (prob_q == 0)  # both -inf: log P - log Q would be NaN
    if pad_mask is not None:
        ignored = ignored | _mask_like(pad_mask, log_p.shape)
    zeros = paddle.zeros_like(log_p)
    elementwise = paddle.where(ignored, zeros, prob_p - prob_q) * paddle.where(ignored, zeros, log_p - log_q)
    total = elementwise.sum() / 2
    if reduction == "batchmean":
        return total / p.shape[0]
    if reduction == "mean":
        return total / elementwise.numel().astype("float32")
    return total
