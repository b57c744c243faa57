"""Deep mutual learning's math, the R-Drop article's own example: `MutualKLLoss` (R-Drop's symmetric
KL between the networks of a `{network: logits}` output) and `MutualTopkAcc` (top-k of each network)."""

import itertools

import paddle
import paddle.nn as nn

from .errors import ConfigError
from .kl import check_reduction, compute_kl_loss


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
            raise ConfigError(
                "MutualKLLoss needs the {network: logits} output of two or more networks (Arch.name: MutualModel)"
            )
        pairs = self.model_name_pairs or list(itertools.combinations(x, 2))
        kl = sum(compute_kl_loss(x[a], x[b], reduction=self.reduction) for a, b in pairs)
        return {"MutualKLLoss": kl / len(pairs)}


class MutualTopkAcc(nn.Layer):
    """Top-k accuracy of every network of a `MutualModel` output, as ``top1_<network>``: PaddleClas's
    DistillationTopkAcc reads one network and its keys would collide for two. A plain tensor
    (eval mode) gives plain ``top1``."""

    def __init__(self, topk=(1, 5)):
        super().__init__()
        self.topk = [topk] if isinstance(topk, int) else list(topk)

    def forward(self, x, label):
        outputs = x if isinstance(x, dict) else {None: x}
        label = label.reshape([-1, 1])
        values = {}
        for name, logits in outputs.items():
            logits = logits.astype("float32")
            for k in self.topk:
                key = f"top{k}" if name is None else f"top{k}_{name}"
                values[key] = paddle.metric.accuracy(logits, label, k=min(k, logits.shape[-1]))
        return values

    def reset(self):
        """PaddleClas resets its metrics between evaluations; nothing is accumulated here."""
