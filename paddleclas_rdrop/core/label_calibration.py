"""Multi-label evaluation from the sigmoid scores: mean average precision (mAP), mean accuracy (mA, as
PaddleClas's `ATTRMetric`), mean binary cross-entropy (BCE, nats per target) and the per-label ECE (the
mean over labels of each label's binary ECE: the targets put in `bins` equal-width bins of the label's
score, |share of positives - mean score| weighted by the bin's samples), and `LabelCalibration`, the
PaddleClas metric that gathers the scores of an evaluation (`Metric.Eval: - LabelCalibration: {bins: 15}`).

A target of -1 (unknown, as `MultiLabelDataset` lists allow) counts in none of them."""

from typing import Dict, List, Optional

import numpy as np
import paddle
import paddle.nn as nn

from .calibration import expected_calibration_error
from .errors import ConfigError
from .targets import multilabel_targets

EPS = 1e-20  # ATTRMetric's, in mA's ratios


def label_counts(scores: np.ndarray, targets: np.ndarray, bins: int = 15) -> np.ndarray:
    """Per label and bin of its score: (targets, summed score, positives), float64 ``[L, 3, bins]``."""
    counts = np.zeros((scores.shape[1], 3, bins))
    for label in range(scores.shape[1]):
        known = targets[:, label] >= 0
        score, target = scores[known, label], targets[known, label].astype(np.float64)
        which = np.minimum((score * bins).astype(int), bins - 1)
        for row, weights in enumerate((None, score, target)):
            counts[label, row] = np.bincount(which, weights=weights, minlength=bins)
    return counts


def mean_label_ece(counts: np.ndarray) -> float:
    """The mean over labels (those with a known target) of the binary ECE of `label_counts`."""
    eces = [expected_calibration_error(*label) for label in np.asarray(counts) if label[0].sum()]
    return float(np.mean(eces)) if eces else 0.0


def mean_bce(scores: np.ndarray, targets: np.ndarray) -> float:
    """The binary cross-entropy in nats, averaged over the known targets (the scores clipped off 0 and 1)."""
    known = targets >= 0
    p = np.clip(scores[known].astype(np.float64), 1e-12, 1 - 1e-12)
    t = targets[known].astype(np.float64)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()) if known.any() else 0.0


def average_precision(score: np.ndarray, target: np.ndarray) -> Optional[float]:
    """One label's AP, scikit-learn's `average_precision_score` (precision at each distinct score, weighted by
    the recall it adds) over the known targets; None without a positive."""
    from sklearn.metrics import average_precision_score  # here: 0.7 s to import, for AP alone

    known = target >= 0
    if not (target[known] == 1).any():
        return None
    return float(average_precision_score(target[known] == 1, score[known]))


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP: the mean of `average_precision` over the labels with a positive."""
    found = [average_precision(scores[:, label], targets[:, label]) for label in range(scores.shape[1])]
    aps = [ap for ap in found if ap is not None]
    return float(np.mean(aps)) if aps else 0.0


def mean_accuracy(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> float:
    """mA, `ATTRMetric`'s `ma`: the mean over labels of (positive recall + negative recall) / 2, a label kept
    at a score above `threshold` (0.5 on the sigmoid is 0 on the logit)."""
    kept = scores > threshold
    positive, negative = targets == 1, targets == 0
    recall = (kept & positive).sum(0) / (positive.sum(0) + EPS)
    rejected = (~kept & negative).sum(0) / (negative.sum(0) + EPS)
    return float(np.mean((recall + rejected) / 2))


def label_summary(scores: np.ndarray, targets: np.ndarray, bins: int = 15) -> Dict[str, object]:
    """{"map", "ma", "nll" (mean BCE), "label_counts" (nested lists)} of sigmoid `scores` ``[N, L]``."""
    scores, targets = np.asarray(scores, np.float64), np.asarray(targets)
    return {
        "map": mean_average_precision(scores, targets),
        "ma": mean_accuracy(scores, targets),
        "nll": mean_bce(scores, targets),
        "label_counts": label_counts(scores, targets, bins).tolist(),
    }


class LabelCalibration(nn.Layer):
    """Per-label ECE and mean BCE of a multi-label model's logits over an evaluation; `summary()` also writes
    every sigmoid score and target to `scores_file` (`.npz`, `scores` and `targets`), from which
    `label_summary` gives mAP and mA too (`tools/compare.py` reads it). List it after the metric the best
    model is kept on: `avg` is the per-label ECE, which is better lower.

    Raises:
        ConfigError: `bins` is not an integer >= 1, or `scores_file` is not a path."""

    def __init__(self, bins: int = 15, scores_file: Optional[str] = None) -> None:
        super().__init__()
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"LabelCalibration.bins must be an integer >= 1 (15 is usual), got {bins!r}")
        if scores_file is not None and (not isinstance(scores_file, str) or not scores_file):
            raise ConfigError(f"LabelCalibration.scores_file must be a file path (or left out), got {scores_file!r}")
        self.bins, self.scores_file = bins, scores_file
        self.reset()

    def reset(self) -> None:
        """Forget the batches seen: a new evaluation starts."""
        self.scores: List[np.ndarray] = []
        self.targets: List[np.ndarray] = []

    def forward(self, x, label: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        logits = x["logits"] if isinstance(x, dict) else x
        scores = nn.functional.sigmoid(logits.astype("float32")).numpy()
        targets = multilabel_targets(label.numpy()).reshape(scores.shape).round().astype(np.int64)
        self.scores.append(scores)
        self.targets.append(targets)
        counts = label_counts(scores, targets, self.bins)
        return {
            "label_ECE": paddle.to_tensor(mean_label_ece(counts)),
            "BCE": paddle.to_tensor(mean_bce(scores, targets)),
        }

    def summary(self) -> Dict[str, float]:
        """{"label_ECE", "BCE"} over everything since `reset()` (and the scores to `scores_file`)."""
        if not self.scores:
            return {"label_ECE": 0.0, "BCE": 0.0}
        scores, targets = np.concatenate(self.scores), np.concatenate(self.targets)
        if self.scores_file:
            write_scores(self.scores_file, scores, targets)
        return {"label_ECE": mean_label_ece(label_counts(scores, targets, self.bins)), "BCE": mean_bce(scores, targets)}

    @property
    def avg(self) -> float:
        return self.summary()["label_ECE"]

    @property
    def avg_info(self) -> str:
        return ", ".join(f"{key}: {value:.5f}" for key, value in self.summary().items())


def write_scores(path: str, scores: np.ndarray, targets: np.ndarray) -> None:
    """`scores` and `targets` to `path` (`.npz`), whole or not at all (a temporary file renamed over it)."""
    from .files import write_whole

    write_whole(path, lambda handle: np.savez(handle, scores=scores, targets=targets), mode="wb")


def read_scores(path: str):
    """(scores, targets) of a `write_scores` file."""
    with np.load(path) as data:
        return data["scores"], data["targets"]
