"""What a multi-label config of the standalone engine must agree on with its lists, checked before anything is
written: `MultiLabelLoss.weight_ratio` reads the ratios `label_ratio: True` gives the targets, and
HammingDistance and AccuracyScore (scikit-learn's, as PaddleClas's) cannot score a target of -1."""

import numpy as np

from ...adapter.sections import section_of
from ...core.errors import ConfigError
from ..data.text import shown
from .keys import single_entry

SKLEARN_METRICS = ("HammingDistance", "AccuracyScore")  # scikit-learn refuses a target of -1


def check_multilabel(config, datasets):
    """`datasets`: {split ("Train", "Eval"): its `ImageListDataset`} of a `Global.use_multilabel` run.
    `ConfigError` naming the `Loss` or `Metric` entry that its split's list cannot feed, and the fix."""
    for split, dataset in datasets.items():
        for index, entry in enumerate(section_of(config, "Loss").get(split) or []):
            name, params = single_entry(entry, f"Loss.{split}.{index}")
            if name == "MultiLabelLoss" and params.get("weight_ratio") and dataset.label_ratio is None:
                raise ConfigError(
                    f"Loss.{split}.MultiLabelLoss.weight_ratio: weighs each target by the list's positive ratio, "
                    f"which the dataset gives with label_ratio: set DataLoader.{split}.dataset.label_ratio: True, "
                    f"or weight_ratio: False"
                )
        unknown = bool(np.any(dataset.labels < 0))
        for index, entry in enumerate(section_of(config, "Metric").get(split) or []):
            name, _ = single_entry(entry, f"Metric.{split}.{index}")
            if name in SKLEARN_METRICS and unknown:
                raise ConfigError(
                    f"Metric.{split}.{index}.{name}: {shown(dataset.list_path)} has targets of -1, which {name} "
                    f"(scikit-learn's, as in PaddleClas) cannot score: remove it from Metric.{split}, use "
                    f"ATTRMetric (which leaves -1 out), or give every target 0 or 1"
                )
