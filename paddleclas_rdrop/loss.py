"""RDropLoss: the KL term of R-Drop as a PaddleClas-style loss layer."""
import itertools

import paddle.nn as nn

from .kl import KL_REDUCTIONS, compute_kl_loss


class RDropLoss(nn.Layer):
    """Mean symmetric KL over all pairs of the `passes` outputs stacked in `x`.

    `x` holds the k passes of one batch stacked pass-major (``[pass_0; pass_1; ...]``,
    as `RDrop` produces them); a dict output is read at ``x["logits"]`` like CELoss
    does. The label is not used: the CE term is left to the stock CELoss, which
    sees every pass with the labels repeated. Alpha is the loss entry's ``weight``.
    """

    def __init__(self, reduction="batchmean", passes=2):
        super().__init__()
        if reduction not in KL_REDUCTIONS:
            raise ValueError(f"RDropLoss: reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")
        if not isinstance(passes, int) or isinstance(passes, bool) or passes < 2:
            raise ValueError(f"RDropLoss: passes must be an integer >= 2, got {passes!r}")
        self.reduction = reduction
        self.passes = passes

    def forward(self, x, label=None):
        if isinstance(x, dict):
            x = x["logits"]
        if x.shape[0] % self.passes:
            raise ValueError(
                f"RDropLoss: got {x.shape[0]} rows, not a multiple of passes={self.passes}; "
                "feed it the stacked output of RDrop, not a single pass")
        outputs = x.split(self.passes, axis=0)
        pairs = list(itertools.combinations(outputs, 2))
        kl = sum(compute_kl_loss(p, q, reduction=self.reduction) for p, q in pairs)
        return {"RDropLoss": kl / len(pairs)}


class MutualKLLoss(nn.Layer):
    """Mean symmetric KL between the networks of a `MutualModel` output ``{name: logits}``:
    the article's two-network term, deep mutual learning. Alpha is the entry's ``weight``.

    ``model_name_pairs`` as PaddleClas's DistillationDMLLoss (default: every pair of networks);
    the KL is R-Drop's `compute_kl_loss` where DMLLoss has its own ``eps``-smoothed one.
    """

    def __init__(self, model_name_pairs=None, reduction="batchmean"):
        super().__init__()
        if reduction not in KL_REDUCTIONS:
            raise ValueError(f"MutualKLLoss: reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")
        self.model_name_pairs = [tuple(pair) for pair in model_name_pairs] if model_name_pairs else None
        self.reduction = reduction

    def forward(self, x, label=None):
        if not isinstance(x, dict) or len(x) < 2:
            raise ValueError("MutualKLLoss needs the {network: logits} output of two or more networks "
                             "(Arch.name: MutualModel)")
        pairs = self.model_name_pairs or list(itertools.combinations(x, 2))
        kl = sum(compute_kl_loss(x[a], x[b], reduction=self.reduction) for a, b in pairs)
        return {"MutualKLLoss": kl / len(pairs)}
