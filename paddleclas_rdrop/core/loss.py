"""`RDropLoss`: the KL term of R-Drop as a PaddleClas-style loss layer (it returns `{name: tensor}`,
as PaddleClas's `ppcls/loss/dmlloss.py` does)."""

import itertools
from typing import Any, Dict, List, Optional, Tuple, Union

import paddle
import paddle.nn as nn

from .errors import ConfigError
from .kl import KL_LOSSES, check_distribution, check_reduction
from .targets import multilabel_targets

ModelOutput = Union[paddle.Tensor, Dict[str, paddle.Tensor], List[paddle.Tensor], Tuple[paddle.Tensor, ...]]
"""A classifier's output: logits ``[B, C]``, a dict with ``"logits"``, or a list or tuple of logits, the main ones
first (what `logits_of` reads)."""


def logits_of(output: ModelOutput) -> paddle.Tensor:
    """The logits of a model output: a tensor ``[B, C]``, a dict's ``"logits"``, or the first of a list or
    tuple (the main classifier's: PaddleClas's GoogLeNet gives ``[main, aux_1, aux_2]`` in training)."""
    if isinstance(output, dict):
        return output["logits"]
    if isinstance(output, (list, tuple)):
        return output[0]
    return output


def check_passes(passes: Any, owner: str = "RDrop.passes") -> int:
    """k, the number of passes: an integer >= 2; raises `ConfigError`."""
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 2:
        raise ConfigError(f"{owner} must be an integer >= 2 (R-Drop compares k >= 2 passes), got {passes!r}")
    return passes


class RDropLoss(nn.Layer):
    """Mean symmetric KL over all pairs of the k passes stacked in the input (Liang et al., "R-Drop:
    Regularized Dropout for Neural Networks", NeurIPS 2021; the KL is `compute_kl_loss` for softmax
    outputs, `compute_bernoulli_kl_loss` for multi-label sigmoid outputs).

    Args:
        reduction: ``batchmean`` (default: the KL summed over classes, averaged over samples, so alpha
            is per sample whatever the batch), ``sum`` (the article's code) or ``mean``.
        passes: k, the number of passes stacked in the input (2 in the paper), the `RDrop` runner's.
            PaddleClas's engine builds the loss from its YAML entry without it; the plugin's adapter
            then sets it from ``RDrop.passes`` (`set_passes`), so that k is written in one place. A
            loss whose k is still unknown when it is called raises: there is no default.
        distribution: the output distribution the KL compares, a key of `KL_LOSSES`: ``softmax``
            (default: single-label logits, one class per sample, the paper's) or ``bernoulli``
            (multi-label logits, an independent sigmoid per label, as a BCE-with-logits loss trains).
            The caller decides from its task loss (cross-entropy: softmax; BCE with logits: bernoulli):
            the logits alone do not tell; an adapter that builds the loss from a config without it sets
            it (`set_distribution`), as it sets k.
        model_name: for a model whose output is ``{network name: output}`` (PaddleClas's
            DistillationModel), the network whose passes the KL compares (PaddleClas's losses'
            ``model_name`` convention); None reads the output itself.

    Call: ``loss(x, label=None) -> {"RDropLoss": scalar float32 tensor}``, in nats (per sample with
        ``batchmean``).
        ``x``: logits ``[k * B, C]``, the k passes of one batch of B samples stacked pass-major
        (``[pass_0; pass_1; ...]``), as `RDrop` returns them; a dict output is read at
        ``x["logits"]`` as PaddleClas's CELoss does. The CE term is the stock CELoss's, which sees every
        pass with the labels repeated (`RDrop.repeat_labels`). Alpha is the loss entry's ``weight``.
        ``label``: with ``bernoulli``, the multi-label targets of the k passes ``[k * B, L]`` (or
        ``[k * B, 2, L]``, targets and their ratios, read at ``[:, 0, :]``, PaddleClas's ``label_ratio``
        layout): a label whose target is negative (-1, the label PaddleClas's MultiLabelLoss gives weight
        0) is not compared. Not used with ``softmax``.

    Raises:
        ConfigError: a bad ``reduction``, ``passes`` or ``distribution``; at a call, an unknown k or a
            row count that is not a multiple of k; `set_passes` with a k other than the one it was built
            with.
    """

    def __init__(
        self,
        reduction: str = "batchmean",
        passes: Optional[int] = None,
        distribution: str = "softmax",
        model_name: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.model_name = model_name
        self.reduction = check_reduction(reduction, "RDropLoss")
        self.distribution = check_distribution(distribution, "RDropLoss")
        self.passes = None if passes is None else check_passes(passes, "RDropLoss: passes")

    def set_passes(self, passes: int) -> None:
        """Set k (the adapter does, from ``RDrop.passes``); a different k than the one given at
        construction is a `ConfigError`."""
        passes = check_passes(passes, "RDropLoss: passes")
        if self.passes is not None and self.passes != passes:
            raise ConfigError(
                f"RDropLoss: built with passes={self.passes}, but the runner has {passes} passes: "
                f"set k in one place (RDrop.passes)"
            )
        self.passes = passes

    def network_output(self, x: ModelOutput) -> ModelOutput:
        """`x`, or with ``model_name`` its network's output; a `ConfigError` for an output without it."""
        if self.model_name is None:
            return x
        if not isinstance(x, dict) or self.model_name not in x:
            names = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ConfigError(f"RDropLoss: model_name {self.model_name!r} is not a network of the output ({names})")
        return x[self.model_name]

    def set_distribution(self, distribution: str) -> None:
        """Set the distribution the KL compares (the adapter does, from the config's task)."""
        self.distribution = check_distribution(distribution, "RDropLoss")

    def ignored(self, label: Optional[paddle.Tensor]) -> Optional[paddle.Tensor]:
        """The bool mask ``[B, L]`` of the labels not compared (a negative target), from the first pass's rows
        of `label` (see the class), or None: softmax, no label, or a label of another shape."""
        if self.distribution != "bernoulli" or label is None or not hasattr(label, "ndim"):
            return None
        targets = multilabel_targets(label)
        if targets.ndim != 2 or targets.shape[0] % self.passes:
            return None
        return targets[: targets.shape[0] // self.passes] < 0

    def forward(self, x: ModelOutput, label: Optional[paddle.Tensor] = None) -> Dict[str, paddle.Tensor]:
        """``x`` ``[k * B, C]`` (or an output `logits_of` reads) -> ``{"RDropLoss": mean symmetric KL over
        the pairs of passes}``; ``label`` masks the ignored labels of a multi-label task. Raises
        `ConfigError` (see the class)."""
        x = logits_of(self.network_output(x))
        if self.passes is None:
            raise ConfigError(
                "RDropLoss: the number of passes k is not known: build it with passes=k (the RDrop "
                "runner's), or let the plugin's adapter give it RDrop.passes"
            )
        if x.shape[0] % self.passes:
            raise ConfigError(
                f"RDropLoss: got {x.shape[0]} rows, not a multiple of passes={self.passes}; feed it the "
                f"stacked output of RDrop (with the same passes), not a single pass"
            )
        outputs = x.split(self.passes, axis=0)
        pairs = list(itertools.combinations(outputs, 2))
        kl_loss, mask = KL_LOSSES[self.distribution], self.ignored(label)
        kl = sum(kl_loss(p, q, pad_mask=mask, reduction=self.reduction) for p, q in pairs)
        return {"RDropLoss": kl / len(pairs)}  # type: ignore[dict-item]  # sum() of k >= 2 tensors is a tensor
