"""The symmetric KL divergence of R-Drop, exact for any logits and any float dtype."""
import paddle

KL_REDUCTIONS = ("sum", "batchmean", "mean")


def check_reduction(reduction, owner="compute_kl_loss"):
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {KL_REDUCTIONS} (batchmean keeps alpha per "
                         f"sample), got {reduction!r}")
    return reduction


def _log_softmax(logits):
    """x - logsumexp(x): Paddle's CPU `F.log_softmax` clips log-probabilities at -64."""
    return logits - paddle.logsumexp(logits, axis=-1, keepdim=True)


def compute_kl_loss(p, q, pad_mask=None, reduction="sum"):
    """(KL(P||Q) + KL(Q||P)) / 2 between the softmax distributions of logits `p` and `q`.

    Same signature and value as the R-Drop article's PaddlePaddle function for
    ``reduction="sum"`` (both directions summed over batch and classes, then halved).
    ``"batchmean"`` divides by the batch size (``p.shape[0]``), which keeps alpha per
    sample whatever the batch; ``"mean"`` divides by the number of elements.
    ``pad_mask`` (bool, broadcastable to ``p``): True marks a position to ignore.

    The two directions add up to ``sum((P - Q) * (log P - log Q))``, computed in
    float32 from log-probabilities: no ``log(0)``, no overflow for fp16/bf16 logits, and
    exact for class gaps of thousands, where ``F.kl_div`` on softmax outputs is not.
    The result is float32 whatever the input dtype.
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
