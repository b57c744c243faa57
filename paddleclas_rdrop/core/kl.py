"""The symmetric KL divergence of R-Drop, exact for any logits and any float dtype: between the softmax
distributions of single-label logits (`compute_kl_loss`) and between the per-label Bernoulli (sigmoid)
distributions of multi-label logits (`compute_bernoulli_kl_loss`); `KL_LOSSES` names them."""

from typing import Any, Callable, Dict, Optional

import paddle
import paddle.nn.functional as F

from .errors import ConfigError

KL_REDUCTIONS = ("sum", "batchmean", "mean")


def check_reduction(reduction: Any, owner: str = "compute_kl_loss") -> str:
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


def _mask_like(pad_mask, shape, owner="compute_kl_loss"):
    """`pad_mask` as a bool tensor of `shape`: broadcast as numpy does, or, when its shape is the leading
    axes of `shape` (``[B]`` or ``[B, T]`` for logits ``[B, T, C]``), over the trailing axes. A mask
    that fits neither way is a `ConfigError` naming `owner`."""
    mask = pad_mask.astype("bool")
    leading = list(mask.shape) == list(shape[: mask.ndim])
    if leading and mask.ndim < len(shape):
        mask = mask.reshape(list(mask.shape) + [1] * (len(shape) - mask.ndim))
    try:
        return paddle.broadcast_to(mask, shape)
    except ValueError:
        raise ConfigError(
            f"{owner}: pad_mask of shape {list(pad_mask.shape)} fits neither the logits' shape "
            f"{list(shape)} nor its leading axes"
        ) from None


def compute_kl_loss(
    p: paddle.Tensor, q: paddle.Tensor, pad_mask: Optional[paddle.Tensor] = None, reduction: str = "sum"
) -> paddle.Tensor:
    """(KL(P||Q) + KL(Q||P)) / 2 between the softmax distributions of logits `p` and `q`, R-Drop's
    regulariser (Liang et al., NeurIPS 2021; the signature and ``sum`` value of the R-Drop article's
    PaddlePaddle function).

    Args:
        p, q: logits ``[B, C]`` (any float dtype; or ``[B, T, C]`` with a mask), the same shape.
        pad_mask: optional bool tensor, broadcastable to ``p`` or of the shape of its leading axes
            (``[B]``: whole samples; ``[B, T]`` for ``[B, T, C]``); True marks a position to ignore.
        reduction: ``sum`` (both directions summed over batch and classes, then halved),
            ``batchmean`` (that sum divided by ``p.shape[0]``: alpha stays per sample whatever the
            batch) or ``mean`` (divided by the number of elements, masked ones included).

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
    ignored = _or_masked((prob_p == 0) & (prob_q == 0), pad_mask, "compute_kl_loss")  # both -inf: NaN
    zeros = paddle.zeros_like(log_p)
    elementwise = paddle.where(ignored, zeros, prob_p - prob_q) * paddle.where(ignored, zeros, log_p - log_q)
    return _reduced(elementwise, reduction)


def compute_bernoulli_kl_loss(
    p: paddle.Tensor, q: paddle.Tensor, pad_mask: Optional[paddle.Tensor] = None, reduction: str = "sum"
) -> paddle.Tensor:
    """(KL(P||Q) + KL(Q||P)) / 2 between the multi-label outputs of logits `p` and `q`: each label an
    independent Bernoulli variable of probability ``sigmoid(logit)``, the distribution a BCE-with-logits
    loss trains (PaddleClas's MultiLabelLoss). R-Drop's regulariser (Liang et al., NeurIPS 2021) for
    multi-label classification: the KL of independent labels is the sum of the labels' KLs.

    Args:
        p, q: logits ``[B, L]`` of L labels (any float dtype; any shape whose first axis is the batch),
            the same shape.
        pad_mask: optional bool tensor, broadcastable to ``p`` or of the shape of its leading axes
            (``[B]``: whole samples); True marks a label to ignore: it adds 0 to the value and its
            logits get a zero gradient. A multi-label target of -1 is a label left out (PaddleClas's
            MultiLabelLoss weighs it 0 with ``weight_ratio``): ``pad_mask = target < 0``, as `RDropLoss` does.
        reduction: ``sum`` (both directions summed over batch and labels, then halved), ``batchmean``
            (that sum divided by ``p.shape[0]``) or ``mean`` (divided by the number of elements of
            ``p``). As in `compute_kl_loss`, masked labels stay in both divisors (they count as zeros),
            as MultiLabelLoss's means count the zero cost of its weight-0 labels: a mask lowers the
            value and never changes alpha's scale.

    Returns:
        A float32 scalar tensor, in nats, whatever the input dtype.

    Raises:
        ConfigError: an unknown ``reduction``, or a ``pad_mask`` whose shape fits neither way.

    Per label, with P = sigmoid(a) and Q = sigmoid(b), the two directions add up to exactly
    ``(P - Q) * (a - b)``. It is computed in float32 in the symmetric form
    ``(hi - lo) * -expm1(lo - hi) * sigmoid(hi) * sigmoid(-lo)`` (hi, lo: the larger and the smaller of
    a and b; ``sigmoid(hi) * sigmoid(-lo) * -expm1(lo - hi)`` is |P - Q|): every factor is accurate
    to a few ulps, so the value stays relatively exact when both logits are large of the same sign
    (where ``sigmoid(a) - sigmoid(b)`` rounds to 0) and when they are close, never overflows for
    finite logits (logits of +/-1e4 give finite values and gradients), and is smooth wherever a != b,
    so its gradient is the exact one. Equal logits add 0 with a zero gradient, infinite ones included
    (both passes +inf, or both -inf: one point mass twice); one pass's infinite logit against any other
    value is an infinite divergence, returned as +inf; a NaN logit gives NaN.
    """
    owner = "compute_bernoulli_kl_loss"
    check_reduction(reduction, owner)
    a, b = p.astype("float32"), q.astype("float32")
    ignored = _or_masked(a == b, pad_mask, owner)
    infinite = (paddle.isinf(a) | paddle.isinf(b)) & ~ignored
    # the ignored and infinite labels compute 0 from 0 and 0: no NaN in their values or gradients
    zeros = paddle.zeros_like(a)
    a, b = paddle.where(ignored | infinite, zeros, a), paddle.where(ignored | infinite, zeros, b)
    hi, lo = paddle.maximum(a, b), paddle.minimum(a, b)
    gap = hi - lo
    elementwise = gap * -paddle.expm1(-gap) * F.sigmoid(hi) * F.sigmoid(-lo)
    elementwise = paddle.where(infinite, paddle.full_like(elementwise, float("inf")), elementwise)
    return _reduced(elementwise, reduction)


def _or_masked(ignored, pad_mask, owner):
    """The bool tensor `ignored` or, where `pad_mask` (see `_mask_like`) is True, True."""
    return ignored if pad_mask is None else ignored | _mask_like(pad_mask, ignored.shape, owner)


def _reduced(elementwise, reduction):
    """The sum of both directions' `elementwise` terms (0 where ignored) halved, then divided as
    `reduction` says: by nothing (``sum``), the batch ``elementwise.shape[0]`` (``batchmean``) or the
    number of elements, ignored ones included (``mean``)."""
    total = elementwise.sum() / 2
    if reduction == "batchmean":
        return total / elementwise.shape[0]
    if reduction == "mean":
        return total / elementwise.numel().astype("float32")
    return total


KL_LOSSES: Dict[str, Callable[..., paddle.Tensor]] = {
    "softmax": compute_kl_loss,
    "bernoulli": compute_bernoulli_kl_loss,
}
"""The symmetric KL of each output distribution: ``softmax`` (single-label logits, one class per sample)
and ``bernoulli`` (multi-label logits, one sigmoid per label)."""


def check_distribution(distribution: Any, owner: str = "RDropLoss") -> str:
    """`distribution` if it is a key of `KL_LOSSES`; raises `ConfigError` naming `owner` and the keys."""
    if not isinstance(distribution, str) or distribution not in KL_LOSSES:
        raise ConfigError(
            f"{owner}: distribution must be one of {tuple(KL_LOSSES)} (softmax for single-label logits, "
            f"bernoulli for multi-label sigmoid logits), got {distribution!r}"
        )
    return distribution
