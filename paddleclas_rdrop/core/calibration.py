"""Calibration of a classifier's softmax: expected calibration error (ECE) and negative log-likelihood
(NLL), accumulated over an evaluation, as a PaddleClas metric (`Metric.Eval: - Calibration: {bins: 15}`).

ECE follows Guo et al., "On Calibration of Modern Neural Networks", ICML 2017 (eq. 3; Naeini et al.
2015): the samples are put in `bins` equal-width bins of their top-1 confidence, and ECE is the
sample-weighted mean over bins of |accuracy - mean confidence|.
"""

from typing import Dict, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt
import paddle
import paddle.nn as nn

from .errors import ConfigError


def calibration_counts(
    logits: paddle.Tensor, labels: npt.ArrayLike, bins: int = 15
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin of top-1 confidence: (samples, summed confidence, correct samples), NumPy float64 `[bins]`.

    `logits` `[B, C]` (any float dtype), `labels` int `[B]` or `[B, 1]`.
    """
    log_p = nn.functional.log_softmax(logits.astype("float32"), axis=-1).numpy().astype(np.float64)
    labels = np.asarray(labels).reshape(-1)
    confidence, predicted = np.exp(log_p.max(axis=1)), log_p.argmax(axis=1)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    return (
        count,
        np.bincount(which, weights=confidence, minlength=bins),
        np.bincount(which, weights=(predicted == labels).astype(np.float64), minlength=bins),
    )


class Calibration(nn.Layer):
    """ECE (in [0, 1]) and NLL (nats per sample) of everything seen since `reset()`.

    PaddleClas's metric interface: call it on each batch's logits ``[B, C]`` (a dict output is read at
    ``"logits"``) and int64 labels ``[B, 1]``; it returns that batch's ``{"ECE", "NLL"}`` and
    accumulates; `avg_info` (``"ECE: ..., NLL: ..."``), `avg` (ECE) and `summary()` give the values over
    the whole evaluation, which is what ECE needs (it does not average over batches). List it after
    `TopkAcc`: PaddleClas keeps the best model by the first metric's `avg`, and a lower ECE is better.

    Args:
        bins: the number of equal-width confidence bins (15, as Guo et al.).
        counts_file: where `summary()` also writes the per-bin counts as JSON (`write_counts`), for a
            reliability diagram (`tools/compare.py` reads them); None: nowhere.

    Raises:
        ConfigError: `bins` is not an integer >= 1, or `counts_file` is not a path.
    """

    def __init__(self, bins: int = 15, counts_file: Optional[str] = None) -> None:
        super().__init__()
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"Calibration.bins must be an integer >= 1 (15 is usual), got {bins!r}")
        if counts_file is not None and (not isinstance(counts_file, str) or not counts_file):
            raise ConfigError(f"Calibration.counts_file must be a file path (or left out), got {counts_file!r}")
        self.bins, self.counts_file = bins, counts_file
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros((3, self.bins))
        self.nll_sum = 0.0

    def forward(
        self, x: Union[paddle.Tensor, Dict[str, paddle.Tensor]], label: paddle.Tensor
    ) -> Dict[str, paddle.Tensor]:
        logits = x["logits"] if isinstance(x, dict) else x
        counts = np.stack(calibration_counts(logits, label.numpy(), self.bins))
        nll = float(nn.functional.cross_entropy(logits.astype("float32"), label.reshape([-1, 1]), reduction="sum"))
        self.counts += counts
        self.nll_sum += nll
        return {
            "ECE": paddle.to_tensor(expected_calibration_error(*counts)),
            "NLL": paddle.to_tensor(nll / logits.shape[0]),
        }

    def all_reduce(self) -> None:
        """Sum the accumulators over the processes of a `paddle.distributed` run."""
        import paddle.distributed as dist

        totals = paddle.to_tensor([*self.counts.reshape(-1), self.nll_sum], dtype="float64")
        dist.all_reduce(totals)
        summed = totals.numpy()
        self.counts, self.nll_sum = summed[:-1].reshape(3, self.bins), float(summed[-1])

    def summary(self) -> Dict[str, float]:
        """{"ECE": float, "NLL": float} over everything since `reset()` (and the counts to `counts_file`)."""
        total = self.counts[0].sum()
        if self.counts_file:
            write_counts(self.counts_file, self.counts, self.nll_sum)
        return {"ECE": expected_calibration_error(*self.counts), "NLL": self.nll_sum / total if total else 0.0}

    @property
    def avg(self) -> float:
        return self.summary()["ECE"]

    @property
    def avg_info(self) -> str:
        return ", ".join(f"{key}: {value:.5f}" for key, value in self.summary().items())


def expected_calibration_error(count: np.ndarray, confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE from per-bin (samples, summed confidence, correct samples)."""
    total = count.sum()
    if not total:
        return 0.0
    seen = count > 0
    return float((np.abs(correct[seen] - confidence[seen])).sum() / total)


def write_counts(path: str, counts: np.ndarray, nll_sum: float) -> None:
    """Write per-bin `counts` `[3, bins]` (samples, summed confidence, correct) and the summed NLL (nats)
    to `path` as JSON {"count", "confidence", "correct", "nll_sum"}, whole or not at all (a temporary
    file renamed over it)."""
    import json

    from .files import write_text

    count, confidence, correct = (row.tolist() for row in counts)
    write_text(path, json.dumps({"count": count, "confidence": confidence, "correct": correct, "nll_sum": nll_sum}))


def read_counts(path: str) -> Tuple[np.ndarray, float]:
    """What `write_counts` wrote: (counts `[3, bins]` float64, summed NLL)."""
    import json

    with open(path) as handle:
        data = json.load(handle)
    return np.array([data["count"], data["confidence"], data["correct"]], dtype=np.float64), data["nll_sum"]
