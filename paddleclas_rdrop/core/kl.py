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
    """x - logsumexp(x): Paddle's CPU `F.log_softmax` clips log-probabilities at -64."""
    return logits - paddle.logsumexp(logits, axis=-1, keepdim=True)


def compute_kl_loss(p, q, pad_mask=None, reduction="sum"):
    """(KL(P||Q) + KL(Q||P)) / 2 between the softmax distributions of logits `p` and `q`, R-Drop's
    regulariser (Liang et al., NeurIPS 2021; the signature and ``sum`` value of the R-Drop article's
    PaddlePaddle function).

    Args:
        p, q: logits ``[B, C]`` (any float dtype; or ``[B, T, C]`` with a mask), the same shape.
        pad_mask: optional bool tensor broadcastable to ``p``; True marks a position to ignore.
        reduction: ``sum`` (both directions summed over batch and classes, then halved),
            ``batchmean`` (that sum divided by ``p.shape[0]``: alpha stays per sample whatever the
            batch) or ``mean`` (divided by the number of elements).

    Returns:
        A float32 scalar tensor, in nats, whatever the input dtype.

    Raises:
        ConfigError: an unknown ``reduction``.

    The two directions add up to ``sum((P - Q) * (log P - log Q))``, computed in float32 from
    log-probabilities: no ``log(0)``, no overflow for fp16/bf16 logits, and exact for class gaps
    of thousands, where ``F.kl_div`` on softmax outputs is not.
    """
    check_reduction(reduction)
    log_p = _log_softmax(p.astype("float32"))
    log_q = _log_softmax(q.astype("float32"))
    elementwise = (paddle.exp(log_p) - paddle.exp(log_q)) * (log_p - log_q)
    if pad_mask is not None:
        mask = paddle.broadcast_to(pad_mask.astype("bool"), elementwise.shape)
        elementwise = paddle.where(mask, paddle.zeros_like(elementwise), elementwise)
    total = elementwise.sum() / 2
    if reduction == "batchmean":
        return total / p.shape[0]
    if reduction == "mean":
        return total / elementwise.numel().astype("float32")
    return total
