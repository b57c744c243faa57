"""`ClassWeightedCELoss`: cross-entropy in which each sample counts with the weight of its class, for imbalanced
classes, as a PaddleClas-style loss layer (it returns `{name: tensor}`, as PaddleClas's `ppcls/loss/dmlloss.py`
does)."""

from typing import Any, Dict, List, Literal, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .errors import ConfigError, finite_number
from .loss import ModelOutput, logits_of

REDUCTIONS = ("mean", "sum", "none")


def check_class_weights(class_weights: Any, owner: str = "ClassWeightedCELoss: class_weights") -> List[float]:
    """`class_weights` as a list of floats: one finite number >= 0 per class, not all 0; raises `ConfigError`.
    The string ``balanced`` is refused here: the tools compute it from the train list before the loss is built."""
    if isinstance(class_weights, str):
        raise ConfigError(
            f"{owner} is {class_weights!r}: paddleclas-rdrop's own tools/train.py and tools/eval.py make it one "
            f"weight per class from the train list before the loss is built; here give the weights: a list of one "
            f"number >= 0 per class"
        )
    values = list(class_weights) if isinstance(class_weights, (list, tuple)) else []
    if not (all(map(_is_weight, values)) and any(float(w) > 0 for w in values)):
        raise ConfigError(f"{owner} must be a list of one number >= 0 per class, not all 0, got {class_weights!r}")
    return [float(w) for w in values]


def _is_weight(value: Any) -> bool:
    return finite_number(value) and float(value) >= 0


class ClassWeightedCELoss(nn.Layer):
    """Cross-entropy with a weight per class: Paddle's `paddle.nn.functional.cross_entropy` with ``weight`` and
    ``soft_label=True``, on the target PaddleClas's `CELoss` trains on (``ppcls/loss/celoss.py``: the one-hot
    label, or the soft Mixup/Cutmix label as it is, smoothed by ``epsilon`` when given).

    Sample i, with target t_i ``[C]`` and logits z_i, has the cross-entropy l_i = -sum_c t_ic log softmax(z_i)_c
    (nats) and the weight w_i = sum_c t_ic class_weights[c]: its class's weight for a hard label, the mix of the
    two classes' weights for a Mixup label. ``mean`` is the weighted mean sum_i w_i l_i / sum_i w_i (Paddle's and
    PyTorch's rule for a weighted cross-entropy), so with every weight 1 it is `CELoss`; ``sum`` is sum_i w_i l_i;
    ``none`` gives w_i l_i ``[B]``. Over the k stacked passes of R-Drop, whose labels are repeated, every pass has
    the same sum of weights, so ``mean`` is the mean over the passes of each pass's weighted mean, as `CELoss`'s
    mean is of each pass's mean.

    Args:
        class_weights: one number >= 0 per class (not all 0), e.g. scikit-learn's
            ``compute_class_weight("balanced", ...)`` of the train labels, n_samples / (n_classes x count of the
            class) (King and Zeng, "Logistic Regression in Rare Events Data", 2001), which the plugin's tools
            compute for ``class_weights: balanced``.
        epsilon: label smoothing (Szegedy et al. 2016) as `CELoss`'s, used when in (0, 1).
        reduction: ``mean`` (default), ``sum`` or ``none``.

    Call: ``loss(x, label) -> {"ClassWeightedCELoss": tensor}`` (float32; a scalar unless ``none``). ``x``: logits
    ``[B, C]``, or a dict output read at ``x["logits"]`` as `CELoss` reads it; ``label``: int ``[B, 1]`` or ``[B]``,
    or a soft label float ``[B, C]`` (Mixup, Cutmix).

    Raises:
        ConfigError: bad ``class_weights`` (the string ``balanced`` included) or ``reduction``; at a call, logits
            of another class count than the weights'.
    """

    def __init__(
        self,
        class_weights: Sequence[float],
        epsilon: Optional[float] = None,
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ConfigError(f"ClassWeightedCELoss: reduction must be mean, sum or none, got {reduction!r}")
        weights = check_class_weights(class_weights)
        self.reduction = reduction
        self.epsilon = epsilon if epsilon is not None and 0 < epsilon < 1 else None
        # not persistable: the weights come from the config, not from a checkpoint's parameters
        self.register_buffer("class_weights", paddle.to_tensor(weights, dtype="float32"), persistable=False)

    def forward(self, x: ModelOutput, label: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """See the class: ``{"ClassWeightedCELoss": weighted cross-entropy}``; `ConfigError` for logits of
        another class count than the weights'."""
        x = logits_of(x).astype("float32")
        classes = x.shape[-1]
        if classes != self.class_weights.shape[0]:
            raise ConfigError(
                f"ClassWeightedCELoss: the model gives {classes} classes but class_weights has "
                f"{self.class_weights.shape[0]}: give one weight per class"
            )
        floating = label.dtype in (paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64)
        soft = floating and label.shape[-1] == classes
        target = label.astype("float32") if soft else F.one_hot(label.reshape([-1]), classes)
        if self.epsilon is not None:
            target = F.label_smooth(target, epsilon=self.epsilon)
        loss = F.cross_entropy(
            x, target, weight=self.class_weights, soft_label=True, reduction=self.reduction, use_softmax=True
        )
        return {"ClassWeightedCELoss": loss.reshape([-1]) if self.reduction == "none" else loss}
