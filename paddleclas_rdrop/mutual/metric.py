"""`MutualTopkAcc`: top-k accuracy of every network of a MutualModel."""
import paddle
import paddle.nn as nn


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
