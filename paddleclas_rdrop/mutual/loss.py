"""`MutualKLLoss`: R-Drop's symmetric KL between the networks of a MutualModel."""
import itertools

import paddle.nn as nn

from ..kl import check_reduction, compute_kl_loss


class MutualKLLoss(nn.Layer):
    """Mean symmetric KL between the networks of a `MutualModel` output ``{name: logits}``:
    the article's two-network term, deep mutual learning. Alpha is the entry's ``weight``.

    ``model_name_pairs`` as PaddleClas's DistillationDMLLoss (default: every pair of networks);
    the KL is R-Drop's `compute_kl_loss` where DMLLoss has its own ``eps``-smoothed one.
    """

    def __init__(self, model_name_pairs=None, reduction="batchmean"):
        super().__init__()
        check_reduction(reduction, "MutualKLLoss")
        self.model_name_pairs = [tuple(pair) for pair in model_name_pairs] if model_name_pairs else None
        self.reduction = reduction

    def forward(self, x, label=None):
        if not isinstance(x, dict) or len(x) < 2:
            raise ValueError("MutualKLLoss needs the {network: logits} output of two or more networks "
                             "(Arch.name: MutualModel)")
        pairs = self.model_name_pairs or list(itertools.combinations(x, 2))
        kl = sum(compute_kl_loss(x[a], x[b], reduction=self.reduction) for a, b in pairs)
        return {"MutualKLLoss": kl / len(pairs)}
