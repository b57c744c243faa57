"""PaddleClas's `Loss.Train` / `Loss.Eval` lists: CELoss, DistillationGTCELoss, DMLLoss and DistillationDMLLoss
(`distillation_losses`), MultiLabelLoss,
MultiLabelAsymmetricLoss, RDropLoss, MutualKLLoss and ClassWeightedCELoss, combined as PaddleClas does."""

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...adapter.mutual import MutualKLLoss
from ...core.class_weighted_ce import ClassWeightedCELoss
from ...core.errors import ConfigError
from ...core.loss import RDropLoss
from ...core.targets import multilabel_targets
from .distillation_losses import DistillationDMLLoss, DMLLoss
from .keys import arguments, single_entry, take
from .ratios import ratio2weight


class CELoss(nn.Layer):
    """Cross-entropy on hard or soft (Mixup/Cutmix) labels, with optional label smoothing.

    As PaddleClas's CELoss, except that a soft label without `epsilon` is used as it is:
    PaddleClas applies a softmax to it first, which flattens a Mixup target.
    """

    def __init__(self, reduction="mean", epsilon=None):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ConfigError(f"CELoss.reduction must be mean, sum or none, got {reduction!r}")
        self.reduction = reduction
        self.epsilon = epsilon if epsilon is not None and 0 < epsilon < 1 else None

    def forward(self, x, label):
        if isinstance(x, dict):
            x = x["logits"]
        x = x.astype("float32")
        classes = x.shape[-1]
        soft = (
            label.dtype in (paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64)
            and label.shape[-1] == classes
        )
        if self.epsilon is None and not soft:
            return {"CELoss": F.cross_entropy(x, label, reduction=self.reduction)}
        target = label.astype("float32") if soft else F.one_hot(label.reshape([-1]), classes)
        if self.epsilon is not None:
            target = F.label_smooth(target, epsilon=self.epsilon)
        loss = -(target * F.log_softmax(x, axis=-1)).sum(axis=-1)
        if self.reduction == "mean":
            loss = loss.mean()
        elif self.reduction == "sum":
            loss = loss.sum()
        return {"CELoss": loss}


class DistillationGTCELoss(CELoss):
    """PaddleClas's CE of each network of a `{network: logits}` output, as ``CELoss_<network>``."""

    def __init__(self, model_names=(), epsilon=None, key=None, name="loss_gt_ce"):
        super().__init__(epsilon=epsilon)
        self.model_names, self.key = list(model_names), key

    def forward(self, predicts, label):
        losses = {}
        for name in self.model_names:
            out = predicts[name] if self.key is None else predicts[name][self.key]
            losses.update({f"{key}_{name}": value for key, value in super().forward(out, label).items()})
        return losses


class MultiLabelLoss(nn.Layer):
    """PaddleClas's `MultiLabelLoss` (`ppcls/loss/multilabelloss.py`, `MultiLabelLoss._binary_crossentropy`
    followed line for line): binary cross-entropy with logits per label, in nats.

    Args: `epsilon` (label smoothing, used when in (0, 1)), `size_sum` (sum over the labels, then the mean over
    the batch; else the mean of all), `weight_ratio` (each target weighted by `ratio2weight` of the list's
    positive ratio; a target of -1 gets weight 0).
    Call: ``loss(x, target) -> {"MultiLabelLoss": scalar}``; `x` logits ``[B, L]`` (a dict at "logits");
    `target` float32 ``[B, L]``, or ``[B, 2, L]`` (targets, ratios) from `label_ratio: True`, which
    `weight_ratio` needs. Without `weight_ratio` a -1 target is used as it is, as in PaddleClas.
    """

    def __init__(self, epsilon=None, size_sum=False, weight_ratio=False):
        super().__init__()
        self.epsilon = epsilon if epsilon is not None and 0 < epsilon < 1 else None
        self.size_sum, self.weight_ratio = size_sum, weight_ratio

    def forward(self, x, target):
        x = x["logits"] if isinstance(x, dict) else x
        class_num = x.shape[-1]
        if self.weight_ratio:
            if target.ndim != 3:
                raise ConfigError(
                    "MultiLabelLoss.weight_ratio: needs the targets' ratios: set label_ratio: True on the dataset"
                )
            label_ratio = target[:, 1, :]
        target = multilabel_targets(target)
        if self.epsilon is not None:
            if target.ndim == 1 or target.shape[-1] != class_num:
                target = F.one_hot(target, class_num)
            target = F.label_smooth(target, epsilon=self.epsilon).reshape([-1, class_num])
        cost = F.binary_cross_entropy_with_logits(x, target, reduction="none")
        if self.weight_ratio:
            weight = ratio2weight((target > 0.5).astype("float32"), label_ratio)
            cost = cost * weight * (target > -1).astype(weight.dtype)
        if self.size_sum:
            cost = cost.sum(1).mean()
        return {"MultiLabelLoss": cost.mean()}


class MultiLabelAsymmetricLoss(nn.Layer):
    """PaddleClas's `MultiLabelAsymmetricLoss` (`ppcls/loss/multilabelloss.py`; Ben-Baruch et al., "Asymmetric
    Loss For Multi-Label Classification", arXiv 2009.14119): per label -log(pt) * (1 - pt)^gamma, gamma
    `gamma_pos` on a positive and `gamma_neg` on a negative, whose probability is shifted by `clip`;
    `disable_focal_loss_grad`: no gradient through the focusing weight.

    Call: ``loss(x, target) -> {"MultiLabelAsymmetricLoss": tensor}``; `x` logits ``[B, L]`` (a dict at
    "logits"), `target` 0/1 ``[B, L]``; `reduction` sum (a scalar), mean, or none (``[B, L]``).
    `ConfigError` for another reduction.
    """

    def __init__(self, gamma_pos=1, gamma_neg=4, clip=0.05, epsilon=1e-8, disable_focal_loss_grad=True,
                 reduction="sum"):  # fmt: skip
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ConfigError(f"MultiLabelAsymmetricLoss.reduction must be mean, sum or none, got {reduction!r}")
        self.gamma_pos, self.gamma_neg, self.clip, self.epsilon = gamma_pos, gamma_neg, clip, epsilon
        self.disable_focal_loss_grad, self.reduction = disable_focal_loss_grad, reduction

    def forward(self, x, target):
        x = x["logits"] if isinstance(x, dict) else x
        pred_sigmoid = F.sigmoid(x)
        target = target.astype(pred_sigmoid.dtype)
        negative = 1 - pred_sigmoid
        if self.clip and self.clip > 0:  # asymmetric clipping of the negatives' probability
            negative = (negative + self.clip).clip(max=1)
        pt = negative * (1 - target) + pred_sigmoid * target
        asymmetric_weight = (1 - pt).pow(self.gamma_pos * target + self.gamma_neg * (1 - target))
        if self.disable_focal_loss_grad:
            asymmetric_weight = asymmetric_weight.detach()
        loss = -paddle.log(pt.clip(min=self.epsilon)) * asymmetric_weight
        if self.reduction == "mean":
            loss = loss.mean()
        elif self.reduction == "sum":
            loss = loss.sum()
        return {"MultiLabelAsymmetricLoss": loss}


LOSSES = {  # name: class; the keys of an entry are its constructor's arguments (keys.arguments)
    "CELoss": CELoss,
    "ClassWeightedCELoss": ClassWeightedCELoss,
    "RDropLoss": RDropLoss,
    "DistillationGTCELoss": DistillationGTCELoss,
    "DMLLoss": DMLLoss,
    "DistillationDMLLoss": DistillationDMLLoss,
    "MutualKLLoss": MutualKLLoss,
    "MultiLabelLoss": MultiLabelLoss,
    "MultiLabelAsymmetricLoss": MultiLabelAsymmetricLoss,
}


class CombinedLoss(nn.Layer):
    """A `Loss.Train` list, summed as PaddleClas's CombinedLoss does.

    Several entries: each returned value times its entry's `weight`, all summed into `loss`.
    One entry: its first value is `loss` and its `weight` is not applied (PaddleClas's rule).
    """

    def __init__(self, entries, path):
        super().__init__()
        if not entries:
            raise ConfigError(f"{path} needs at least one loss, e.g. `- CELoss: {{weight: 1.0}}`")
        layers, self.loss_weight = [], []
        for index, entry in enumerate(entries):
            name, params = single_entry(entry, f"{path}.{index}")
            if name not in LOSSES:
                raise ConfigError(
                    f"{path}.{index}: {name} is not supported by the standalone engine (it knows {sorted(LOSSES)}): "
                    f"run with a PaddleClas source tree (PADDLECLAS_ROOT), whose Engine has it"
                )
            cls = LOSSES[name]
            defaults, required = arguments(cls)
            params = take(params, f"{path}.{index}.{name}", (defaults, [*required, "weight"]))
            self.loss_weight.append(params.pop("weight"))
            try:
                layers.append(cls(**params))
            except ValueError as error:
                raise ConfigError(f"{path}.{index}.{name}: {error}") from None
        self.loss_func = nn.LayerList(layers)

    def __call__(self, x, label):
        if len(self.loss_func) == 1:
            out = dict(self.loss_func[0](x, label))
            out["loss"] = next(iter(out.values()))
            return out
        out = {}
        for loss, weight in zip(self.loss_func, self.loss_weight):
            out.update({key: value * weight for key, value in loss(x, label).items()})
        out["loss"] = paddle.add_n(list(out.values()))
        return out
