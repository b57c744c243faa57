"""RDropLoss: the KL term of R-Drop as a PaddleClas-style loss layer."""
import itertools

import paddle.nn as nn

from .kl import check_reduction, compute_kl_loss

PASSES_ATTRIBUTE = "rdrop_passes"  # set by RDrop on the logits it stacks: their number of passes


class RDropLoss(nn.Layer):
    """Mean symmetric KL over all pairs of the k passes stacked in `x`.

    `x` holds the k passes of one batch stacked pass-major (``[pass_0; pass_1; ...]``), as
    `RDrop` produces them; a dict output is read at ``x["logits"]`` like CELoss does. The
    number of passes is the runner's: its output carries it (`PASSES_ATTRIBUTE`), so it is set
    in one place only. ``passes`` is for a stack made by hand (default 2, the paper's k). The label is not used: the CE
    term is left to the stock CELoss, which sees every pass with the labels repeated. Alpha
    is the loss entry's ``weight``.
    """

    def __init__(self, reduction="batchmean", passes=None):
        super().__init__()
        check_reduction(reduction, "RDropLoss")
        if passes is not None and (not isinstance(passes, int) or isinstance(passes, bool) or passes < 2):
            raise ValueError(f"RDropLoss: passes must be an integer >= 2, got {passes!r}")
        self.reduction = reduction
        self.passes = passes

    def forward(self, x, label=None):
        if isinstance(x, dict):
            x = x["logits"]
        passes = getattr(x, PASSES_ATTRIBUTE, None) or self.passes or 2
        if self.passes is not None and passes != self.passes:
            raise ValueError(f"RDropLoss: passes={self.passes}, but the runner stacked {passes} passes: "
                             f"leave passes out, the runner's output says it")
        if x.shape[0] % passes:
            raise ValueError(
                f"RDropLoss: got {x.shape[0]} rows, not a multiple of passes={passes}; "
                "feed it the stacked output of RDrop, not a single pass")
        outputs = x.split(passes, axis=0)
        pairs = list(itertools.combinations(outputs, 2))
        kl = sum(compute_kl_loss(p, q, reduction=self.reduction) for p, q in pairs)
        return {"RDropLoss": kl / len(pairs)}
