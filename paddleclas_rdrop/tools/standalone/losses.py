"""PaddleClas's `Loss.Train` / `Loss.Eval` lists: CELoss, DistillationGTCELoss, RDropLoss and
MutualKLLoss, combined as PaddleClas does."""

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...adapter.mutual import MutualKLLoss
from ...core.errors import ConfigError
from ...core.loss import RDropLoss
from .keys import single_entry, take


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


LOSSES = {
    "CELoss": (CELoss, {"reduction": "mean", "epsilon": None}),
    "RDropLoss": (RDropLoss, {"reduction": "batchmean", "distribution": "softmax", "model_name": None}),
    "DistillationGTCELoss": (
        DistillationGTCELoss,
        {"model_names": (), "epsilon": None, "key": None, "name": "loss_gt_ce"},
    ),
    "MutualKLLoss": (MutualKLLoss, {"model_name_pairs": None, "reduction": "batchmean"}),
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
                    f"{path}.{index}: {name} is not supported by the standalone engine (it knows {sorted(LOSSES)})"
                )
            cls, defaults = LOSSES[name]
            params = take(params, f"{path}.{name}", defaults, required=("weight",))
            self.loss_weight.append(params.pop("weight"))
            try:
                layers.append(cls(**params))
            except ValueError as error:
                raise ConfigError(f"{path}.{name}: {error}") from None
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
