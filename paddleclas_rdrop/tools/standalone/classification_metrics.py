"""PaddleClas's single-label metrics of its PULC and ImageNet configs (`ppcls/metric/metrics.py`): `TopkAcc`,
`DistillationTopkAcc` (one network of a `{network: output}` output), `GoogLeNetTopkAcc` (the first of GoogLeNet's
three outputs), each a value per batch, and `TprAtFpr` (PULC's two-class metric), accumulated over an evaluation.

Outputs are logits ``[B, C]`` (a dict at "logits"); labels int64 ``[B, 1]`` (or ``[B]``).
"""

import numpy as np
import paddle.nn.functional as F
from paddleclas.ppcls.utils import logger

from ...adapter.mutual import MutualTopkAcc
from ...core.errors import ConfigError

THRESHOLDS = np.arange(10000) / 10000.0  # TprAtFpr's thresholds, PaddleClas's `i / 10000.` for i in range(10000)


class TopkAcc(MutualTopkAcc):
    """PaddleClas's TopkAcc: top-k of one output (a dict output is read at "logits"):
    ``{"top1": ..., "top<k>": ...}`` per batch; a `k` above the class count gives 1 with PaddleClas's warning,
    once (the tools leave such a `k` out before: `tools/data/topk.settle_topk`)."""

    warned = False

    def forward(self, x, label):
        x = x["logits"] if isinstance(x, dict) else x
        above = [k for k in self.topk if k > x.shape[-1]]
        if above and not self.warned:
            k = above[0]
            logger.warning(f"The output dims({x.shape[-1]}) is less than k({k}), so the Top-{k} metric is meaningless.")
            self.warned = True
        return super().forward(x, label)


class DistillationTopkAcc(TopkAcc):
    """PaddleClas's `DistillationTopkAcc`: `TopkAcc` of the network `model_key` of a `{network: output}` output,
    read at `feature_key` when given. An output that is not a dict is read as it is: PaddleClas's evaluation hands
    the metrics the "Student" network's output alone (`evaluated_output`). `ConfigError` for a `model_key` the
    output does not have."""

    def __init__(self, model_key, feature_key=None, topk=(1, 5)):
        super().__init__(topk=topk)
        self.model_key, self.feature_key = model_key, feature_key

    def forward(self, x, label):
        if isinstance(x, dict):
            if self.model_key not in x:
                raise ConfigError(f"DistillationTopkAcc.model_key {self.model_key!r} is none of the networks {list(x)}")
            x = x[self.model_key]
        if self.feature_key is not None:
            x = x[self.feature_key]
        return super().forward(x, label)


class GoogLeNetTopkAcc(TopkAcc):
    """PaddleClas's `GoogLeNetTopkAcc`: `TopkAcc` of the first of GoogLeNet's outputs ``[out, aux1, aux2]``
    (PaddleClas's also fails on a `k` other than 1 and 5; this one does not)."""

    def forward(self, x, label):
        return super().forward(x[0], label)


def evaluated_output(out):
    """The output PaddleClas's `classification_eval` hands the eval loss and metrics: a `DistillationModel`'s
    ``{network: output}`` read at "Student", then a dict at "logits"; any other output as it is."""
    if isinstance(out, dict) and "Student" in out:
        out = out["Student"]
    if isinstance(out, dict) and "logits" in out:
        out = out["logits"]
    return out


def count_above(scores, thresholds):
    """``[T]`` int: how many of `scores` ``[N]`` are > each threshold, compared in the scores' dtype (as
    PaddleClas's ``array > python_float``)."""
    ordered = np.sort(scores)
    return len(ordered) - np.searchsorted(ordered, thresholds.astype(ordered.dtype), side="right")


class TprAtFpr:
    """PaddleClas's `TprAtFpr` (PULC's `*_exists` and `safety_helmet` configs): the softmax score of class 1 of
    each sample of two-class logits ``[B, 2]``, kept over an evaluation by its label ``[B, 1]`` (0: negative, any
    other: positive); `summary()` gives the best TPR whose FPR is <= `max_fpr` over the thresholds 0, 1e-4, ...,
    0.9999 (score > threshold), with that threshold and FPR (``{"tpr": 0.0}`` when none has a TPR above 0).
    `tpr` is the value PaddleClas's Engine keeps the best model on (its `avg`); `avg_info` is its text line. The
    10000 thresholds are counted at once on the sorted scores, where PaddleClas loops over them."""

    main_key = "tpr"

    def __init__(self, max_fpr=1 / 1000.0):
        self.max_fpr = max_fpr
        self.reset()

    def reset(self):
        self.positive_scores, self.negative_scores = [], []

    def __call__(self, x, label):
        x = x["logits"] if isinstance(x, dict) else x
        scores = F.softmax(x, axis=-1)[:, 1].numpy()
        negative = label.reshape([-1]).numpy() == 0
        self.positive_scores.append(scores[~negative])
        self.negative_scores.append(scores[negative])
        return {}

    def all_reduce(self):
        """The scores of every process of a `paddle.distributed` run gathered into this one's."""
        import paddle.distributed as dist

        gathered = []
        dist.all_gather_object(gathered, (self.positive_scores, self.negative_scores))
        self.reset()
        for positive, negative in gathered:
            self.positive_scores += positive
            self.negative_scores += negative

    def _scores(self, parts):
        return np.concatenate(parts) if parts else np.zeros([0], "float32")

    def best(self):
        """(threshold, fpr, tpr) of PaddleClas's `avg_info` loop (the lowest threshold of the highest TPR above 0
        with FPR <= max_fpr; with no negative, FPR 0.0 at every threshold), or None."""
        positive, negative = self._scores(self.positive_scores), self._scores(self.negative_scores)
        if len(positive) == 0:
            return None
        tpr = count_above(positive, THRESHOLDS) / len(positive)
        if len(negative) == 0:
            logger.warning("The number of negative samples is 0, please add negative samples.")
            fpr = np.zeros_like(tpr)
        else:
            fpr = count_above(negative, THRESHOLDS) / len(negative)
        eligible = np.where(fpr <= self.max_fpr, tpr, -1.0)
        index = int(np.argmax(eligible))
        return (float(THRESHOLDS[index]), fpr[index], tpr[index]) if eligible[index] > 0 else None

    @property
    def avg(self):
        """PaddleClas's `avg`: the best TPR (0.0 without one)."""
        found = self.best()
        return float(found[2]) if found else 0.0

    @property
    def avg_info(self):
        """PaddleClas's text, ``threshold: 0.5, fpr: 0.0, tpr: 0.98765`` ("" without a TPR above 0)."""
        found = self.best()
        return "threshold: {}, fpr: {}, tpr: {:.5f}".format(*found) if found else ""

    def summary(self):
        """``{"threshold": float, "fpr": float, "tpr": float}`` over everything since `reset()`, or ``{}`` where no
        threshold has a TPR above 0 (PaddleClas's log then shows nothing of it; the best model is kept on 0.0)."""
        found = self.best()
        return dict(zip(("threshold", "fpr", "tpr"), map(float, found))) if found else {}
