"""PaddleClas's per-label weights of a multi-label target by the list's share of positives."""

import paddle


def ratio2weight(targets, ratio):
    """PaddleClas's `ratio2weight` (`ppcls/loss/multilabelloss.py`): the weight of each target, float32
    ``[B, L]``: exp(1 - ratio) for a positive (`targets` 1), exp(ratio) for a negative (0), where `ratio`
    ``[B, L]`` is the list's share of positives of the label; 0 where a target is above 1 (RAP's 2)."""
    weights = paddle.exp((1.0 - targets) * ratio + targets * (1.0 - ratio))
    return weights - weights * (targets > 1).astype(weights.dtype)
