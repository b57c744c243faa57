"""PaddleClas's multi-label metrics (`ppcls/metric/metrics.py`: `HammingDistance`, `AccuracyScore`, `ATTRMetric`
with `get_attr_metrics`, `MultiLabelMAP`), on the `paddleclas` wheel's metric functions
(`paddleclas.ppcls.utils.metrics`: `multi_hot_encode`, `hamming_distance`, `accuracy_score`) and its `AttrMeter`
(`ppcls/utils/misc.py`).

Outputs are logits ``[B, L]`` (a dict at "logits"); targets float32 ``[B, L]`` or, from a `label_ratio`
dataset, ``[B, 2, L]``, read at ``[:, 0, :]`` (PaddleClas's HammingDistance and AccuracyScore hand such a
target to scikit-learn whole, which refuses it; its ATTRMetric reads ``[:, 0, :]``).
"""

import numpy as np
import paddle.nn.functional as F
from paddleclas.ppcls.utils.metrics import accuracy_score, hamming_distance, multi_hot_encode
from paddleclas.ppcls.utils.misc import AttrMeter

from ...core.errors import ConfigError
from ...core.targets import multilabel_targets

ATTR_RESULTS = (
    "ma", "label_f1", "label_pos_recall", "label_neg_recall", "instance_f1", "instance_acc", "instance_prec",
    "instance_recall",
)  # fmt: skip  # AttrMeter.res()'s order, the names of PaddleClas's "evalres" line


def _arrays(output, target):
    """(logits ``[B, L]``, targets ``[B, L]``) as numpy arrays."""
    output = output["logits"] if isinstance(output, dict) else output
    target = target.numpy() if hasattr(target, "numpy") else np.asarray(target)
    return output, multilabel_targets(target)


class HammingDistance:
    """PaddleClas's `HammingDistance`: the share of labels whose prediction (sigmoid >= 0.5, `multi_hot_encode`)
    differs from the target, per batch: ``{"HammingDistance": float}`` in [0, 1], lower is better."""

    main_key = "HammingDistance"

    def __call__(self, output, target):
        output, target = _arrays(output, target)
        preds = multi_hot_encode(F.sigmoid(output).numpy(), threshold=0.5)
        return {"HammingDistance": float(hamming_distance(preds, target))}


class AccuracyScore:
    """PaddleClas's `AccuracyScore`: with `base` "label" (its default) (TP + TN) / all labels of the batch, with
    "sample" the share of samples whose every label is right: ``{"AccuracyScore": float}`` in [0, 1].
    `ConfigError` for another `base`."""

    main_key = "AccuracyScore"

    def __init__(self, base="label"):
        if base not in ("sample", "label"):
            raise ConfigError(f"AccuracyScore.base must be sample or label, got {base!r}")
        self.base = base

    def __call__(self, output, target):
        output, target = _arrays(output, target)
        preds = multi_hot_encode(F.sigmoid(output).numpy(), threshold=0.5)
        return {"AccuracyScore": float(accuracy_score(preds, target, base=self.base))}


def get_attr_metrics(gt_label, preds_probs, threshold):
    """PaddleClas's `get_attr_metrics` (`ppcls/metric/metrics.py`, from Rethinking_of_PAR): the per-label
    counts ``[L]`` (gt_pos, gt_neg, true_pos, true_neg, false_pos, false_neg) and per-sample ones ``[B]``
    (gt_pos_ins, true_pos_ins, intersect_pos, union_pos) of `preds_probs` > `threshold` against `gt_label`
    (-1: left out), as `AttrMeter.update` takes them."""
    pred_label = (preds_probs > threshold).astype(int)
    pred_label[gt_label == -1] = -1
    positive, negative, predicted = gt_label == 1, gt_label == 0, pred_label == 1
    return {
        "gt_pos": np.sum(positive, axis=0).astype(float),
        "gt_neg": np.sum(negative, axis=0).astype(float),
        "true_pos": np.sum(positive * predicted, axis=0).astype(float),
        "true_neg": np.sum(negative * (pred_label == 0), axis=0).astype(float),
        "false_pos": np.sum(negative * predicted, axis=0).astype(float),
        "false_neg": np.sum(positive * (pred_label == 0), axis=0).astype(float),
        "gt_pos_ins": np.sum(positive, axis=1).astype(float),
        "true_pos_ins": np.sum(predicted, axis=1).astype(float),
        "intersect_pos": np.sum(positive * predicted, axis=1).astype(float),
        "union_pos": np.sum(positive + predicted, axis=1).astype(float),
    }


class ATTRMetric:
    """PaddleClas's `ATTRMetric` (PULC's attribute metric): counts accumulated over an evaluation (the wheel's
    `AttrMeter`); `summary()` gives mean accuracy `ma` (the mean over labels of the positive and negative
    recalls, the value PaddleClas's Engine keeps the best model on) and the other seven values of
    `AttrMeter.res()`, each in [0, 1]. As PaddleClas, `threshold` applies to the model's output as it is
    (logits in evaluation); a call returns no per-batch value."""

    main_key = "ma"

    def __init__(self, threshold=0.5):
        self.threshold = threshold
        self.reset()

    def reset(self):
        self.attrmeter = AttrMeter(threshold=0.5)  # PaddleClas's ATTRMetric.reset

    def __call__(self, output, target):
        output, target = _arrays(output, target)
        self.attrmeter.update(get_attr_metrics(target, output.numpy(), self.threshold))
        return {}

    def all_reduce(self):
        """The counts of every process of a `paddle.distributed` run gathered into this one's."""
        import paddle.distributed as dist

        gathered = []
        dist.all_gather_object(gathered, vars(self.attrmeter).copy())
        self.reset()
        for part in gathered:
            self.attrmeter.update({key: np.asarray(value) for key, value in part.items() if key != "threshold"})

    def summary(self):
        """{name: float} of `ATTR_RESULTS` over everything since `reset()`."""
        meter = AttrMeter(threshold=0.5)  # res() turns its lists into arrays: leave this one's as they are
        vars(meter).update({key: np.copy(value) for key, value in vars(self.attrmeter).items()})
        return dict(zip(ATTR_RESULTS, map(float, meter.res())))


def ranked_labels(batches, class_idx):
    """The 0/1 targets of class `class_idx` over `batches` [(sigmoid scores ``[B, L]``, targets ``[B, L]``)] in
    PaddleClas's `MultiLabelMAP` order: each batch by descending score (``argsort(score)[::-1]``), then all of
    them by a stable sort on descending score (its `get_tp_fp_accum`), so that ties rank as there."""
    scores, hits = [], []
    for score, target in batches:
        order = np.argsort(score[:, class_idx])[::-1]
        scores.append(score[order, class_idx])
        hits.append(target[order, class_idx].astype(int) == 1)  # PaddleClas: int(label) == 1, any other is 0
    scores, hits = np.concatenate(scores), np.concatenate(hits)
    return hits[np.argsort(-scores, kind="stable")]


def average_precision(hits, map_type):
    """PaddleClas's AP of one class from its ranked 0/1 `hits` ``[N]`` (at least one 1): "integral", the sum of
    precision times recall gap at each hit, or "11point", the mean over recall 0, 0.1, ..., 1 of the best
    precision at that recall or above."""
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    recall = true_positives / true_positives[-1]
    if map_type == "integral":
        return float(np.sum(precision[hits] * np.diff(recall[hits], prepend=0.0)))
    levels = [precision[recall >= j / 10.0] for j in range(11)]
    return sum(float(level.max()) if len(level) else 0.0 for level in levels) / 11.0


class MultiLabelMAP:
    """PaddleClas's `MultiLabelMAP` (`ppcls/metric/metrics.py`, MLDecoder's COCO configs): the sigmoid scores of
    logits ``[B, L]`` and their targets ``[B, L]`` (1: positive, any other: negative) kept over an evaluation;
    `summary()` gives the mean over the labels with a positive of their average precision (`map_type`
    "integral" or "11point"), ``{"MultiLabelMAP(<map_type>)": float}`` in [0, 1], the key PaddleClas logs and
    the value its Engine keeps the best model on. `ConfigError` for another `map_type`."""

    def __init__(self, map_type="integral"):
        if map_type not in ("11point", "integral"):
            raise ConfigError(f"MultiLabelMAP.map_type must be 11point or integral, got {map_type!r}")
        self.map_type, self.main_key = map_type, f"MultiLabelMAP({map_type})"
        self.reset()

    def reset(self):
        self.batches = []

    def __call__(self, output, target):
        output, target = _arrays(output, target)
        self.batches.append((F.sigmoid(output).numpy(), target))
        return {}

    def all_reduce(self):
        """The batches of every process of a `paddle.distributed` run gathered into this one's."""
        import paddle.distributed as dist

        gathered = []
        dist.all_gather_object(gathered, self.batches)
        self.batches = [batch for part in gathered for batch in part]

    def summary(self):
        """{main_key: mAP} over everything since `reset()` (0.0 without a positive)."""
        labels = self.batches[0][0].shape[-1] if self.batches else 0
        ranked = [ranked_labels(self.batches, index) for index in range(labels)]
        values = [average_precision(hits, self.map_type) for hits in ranked if hits.any()]
        return {self.main_key: float(np.mean(values)) if values else 0.0}
