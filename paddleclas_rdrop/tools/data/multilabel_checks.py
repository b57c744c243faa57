"""What a multi-label config (`Global.use_multilabel`) must agree on with its lists, checked on both engines before
anything is written (`preflight.check_lists` under PaddleClas's Engine, the standalone engine once its loaders are
built): `MultiLabelLoss.weight_ratio` reads the ratios `label_ratio: True` gives the targets, and HammingDistance
and AccuracyScore (scikit-learn's, in PaddleClas's and the standalone engine alike) cannot score a target of -1."""

import numpy as np

from ...adapter.sections import section_of
from ...core.errors import ConfigError
from .text import shown

SKLEARN_METRICS = ("HammingDistance", "AccuracyScore")  # scikit-learn refuses a target of -1


def _entries(config, section, split):
    """(index, name, params) of each one-key entry of `<section>.<split>` (other entries: the engines' to refuse)."""
    for index, entry in enumerate(section_of(config, section).get(split) or []):
        if isinstance(entry, dict) and len(entry) == 1:
            ((name, params),) = entry.items()
            yield index, name, params or {}


def check_multilabel(config, lists):
    """`lists`: {split ("Train", "Eval"): (its list file, its targets int ``[N, L]``)} of a `Global.use_multilabel`
    run. `ConfigError` naming the `Loss` or `Metric` entry that its split's list cannot feed, and the fix."""
    if not section_of(config, "Global").get("use_multilabel"):
        return
    for split, (list_path, labels) in lists.items():
        label_ratio = section_of(config, "DataLoader", split, "dataset").get("label_ratio")
        for _, name, params in _entries(config, "Loss", split):
            if name == "MultiLabelLoss" and params.get("weight_ratio") and not label_ratio:
                raise ConfigError(
                    f"Loss.{split}.MultiLabelLoss.weight_ratio: weighs each target by the list's positive ratio, "
                    f"which the dataset gives with label_ratio: set DataLoader.{split}.dataset.label_ratio: True, "
                    f"or weight_ratio: False"
                )
        unknown = bool(np.any(np.asarray(labels) < 0))
        for index, name, _ in _entries(config, "Metric", split):
            if name in SKLEARN_METRICS and unknown:
                raise ConfigError(
                    f"Metric.{split}.{index}.{name}: {shown(list_path)} has targets of -1, which {name} "
                    f"(scikit-learn's, as in PaddleClas) cannot score: remove it from Metric.{split}, use "
                    f"ATTRMetric (which leaves -1 out), or give every target 0 or 1"
                )


def check_positives(key, labels):
    """`ConfigError` naming `key` (the evaluated list) where no line of its multi-label targets `labels` (``[N, L]``)
    holds a 1: mAP, the mean of the average precisions over the labels with a positive
    (`core.label_calibration.mean_average_precision`), is undefined on it."""
    if len(labels) and not (np.asarray(labels) == 1).any():
        raise ConfigError(
            f"{key}: no image has any of its labels (every target is 0 or -1), so its mAP, the mean over the labels "
            "with a positive, is undefined: evaluate on a list where some image has a label"
        )
