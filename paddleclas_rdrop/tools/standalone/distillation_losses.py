"""PaddleClas's deep-mutual-learning losses for the standalone engine: `DMLLoss` (`ppcls/loss/dmlloss.py`) and
`DistillationDMLLoss` (`ppcls/loss/distillationloss.py`), followed line for line, the losses of PaddleClas's
distillation recipes (PULC's `*_distillation.yaml`)."""

import paddle
import paddle.nn as nn

from ...core.errors import ConfigError
from .ratios import ratio2weight


class DMLLoss(nn.Layer):
    """PaddleClas's `DMLLoss`: the symmetric KL of the activations (`act`: softmax, sigmoid or None) of two
    outputs ``[B, C]``, each direction `target * log((target + eps) / (x + eps)) * C`, halved; with a multi-label
    `gt_label` ``[B, 2, L]`` (targets and ratios) weighted by `ratio2weight` (a target of -1 weighs 0); the
    mean over the elements, or with `sum_across_class_dim` the sum over classes averaged over the batch.
    Call: ``loss(x, target, gt_label=None) -> {"DMLLoss": scalar}``."""

    def __init__(self, act="softmax", sum_across_class_dim=False, eps=1e-12):
        super().__init__()
        if act not in ("softmax", "sigmoid", None):
            raise ConfigError(f"DMLLoss.act must be softmax, sigmoid or None, got {act!r}")
        self.act = {"softmax": nn.Softmax(axis=-1), "sigmoid": nn.Sigmoid(), None: None}[act]
        self.eps, self.sum_across_class_dim = eps, sum_across_class_dim

    def _kldiv(self, x, target):
        return target * paddle.log((target + self.eps) / (x + self.eps)) * x.shape[-1]

    def forward(self, x, target, gt_label=None):
        if self.act is not None:
            x, target = self.act(x), self.act(target)
        loss = (self._kldiv(x, target) + self._kldiv(target, x)) / 2
        if gt_label is not None:
            gt_label, label_ratio = gt_label[:, 0, :], gt_label[:, 1, :]
            weight = ratio2weight(paddle.cast(gt_label > 0.5, "float32"), label_ratio)
            loss = loss * weight * (gt_label > -1).astype(weight.dtype)
        return {"DMLLoss": loss.sum(1).mean() if self.sum_across_class_dim else loss.mean()}


class DistillationDMLLoss(DMLLoss):
    """PaddleClas's `DistillationDMLLoss`: `DMLLoss` between the networks of each pair of `model_name_pairs` of a
    `{network: output}` output (read at `key` when given), as ``DMLLoss_<a>_<b>_<index>``; with `weight_ratio`,
    the batch's multi-label targets weigh it."""

    def __init__(
        self,
        model_name_pairs=(),
        act="softmax",
        weight_ratio=False,
        sum_across_class_dim=False,
        key=None,
        name="loss_dml",
    ):
        super().__init__(act=act, sum_across_class_dim=sum_across_class_dim)
        self.model_name_pairs, self.key, self.name, self.weight_ratio = list(model_name_pairs), key, name, weight_ratio

    def forward(self, predicts, batch):
        losses = {}
        for index, (first, second) in enumerate(self.model_name_pairs):
            out1, out2 = predicts[first], predicts[second]
            if self.key is not None:
                out1, out2 = out1[self.key], out2[self.key]
            loss = super().forward(out1, out2, batch if self.weight_ratio else None)
            losses.update({f"{key}_{first}_{second}_{index}": value for key, value in loss.items()})
        return losses
