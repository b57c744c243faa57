"""The `Metric.Train` / `Metric.Eval` lists of the standalone engine: PaddleClas's `TopkAcc` {"top1": ..., "top5": ...},
`DistillationTopkAcc`, `GoogLeNetTopkAcc` and `TprAtFpr` (`classification_metrics`); `MutualTopkAcc` per network;
`Calibration`; `LabelCalibration`; and the multi-label metrics `HammingDistance`, `AccuracyScore`, `ATTRMetric`,
`MultiLabelMAP` (`multilabel_metrics`)."""

from ...adapter.mutual import MutualTopkAcc
from ...core.calibration import Calibration
from ...core.errors import ConfigError
from ...core.label_calibration import LabelCalibration
from .classification_metrics import DistillationTopkAcc, GoogLeNetTopkAcc, TopkAcc, TprAtFpr
from .keys import arguments, single_entry, take
from .multilabel_metrics import AccuracyScore, ATTRMetric, HammingDistance, MultiLabelMAP

METRICS = {  # name: class; the keys of an entry are its constructor's arguments (keys.arguments)
    "TopkAcc": TopkAcc,
    "DistillationTopkAcc": DistillationTopkAcc,
    "GoogLeNetTopkAcc": GoogLeNetTopkAcc,
    "TprAtFpr": TprAtFpr,
    "MutualTopkAcc": MutualTopkAcc,
    "Calibration": Calibration,
    "LabelCalibration": LabelCalibration,
    "HammingDistance": HammingDistance,
    "AccuracyScore": AccuracyScore,
    "ATTRMetric": ATTRMetric,
    "MultiLabelMAP": MultiLabelMAP,
}


class Metrics:
    """A `Metric.Train` / `Metric.Eval` list (`path`), called as PaddleClas's CombinedMetrics: the values of
    every metric in one dict. `ConfigError` naming an entry it does not know."""

    def __init__(self, entries, path):
        self.metrics = []
        for index, entry in enumerate(entries or []):
            name, params = single_entry(entry, f"{path}.{index}")
            if name not in METRICS:
                raise ConfigError(
                    f"{path}.{index}: {name} is not supported by the standalone engine (it knows {sorted(METRICS)}): "
                    f"run with a PaddleClas source tree (PADDLECLAS_ROOT), whose Engine has it"
                )
            cls = METRICS[name]
            self.metrics.append(cls(**take(params, f"{path}.{index}.{name}", arguments(cls))))

    def __call__(self, x, label):
        out = {}
        for metric in self.metrics:
            out.update(metric(x, label))
        return out

    @property
    def main_key(self):
        """The key of the value PaddleClas's Engine keeps the best model on, when the first metric names one
        (PaddleClas's `classification_eval` returns the first metric's average: ATTRMetric's mA, TprAtFpr's TPR,
        MultiLabelMAP's mAP); else None (top-1 then, `StandaloneEngine._kept_metric`)."""
        return getattr(self.metrics[0], "main_key", None) if self.metrics else None

    def reset(self):
        for metric in self.metrics:
            if hasattr(metric, "reset"):
                metric.reset()

    def summary(self, all_reduce=False):
        """The values of the metrics that accumulate over an evaluation (`Calibration`, ATTRMetric, TprAtFpr), over
        every process with `all_reduce`."""
        values = {}
        for metric in self.metrics:
            if hasattr(metric, "summary"):
                if all_reduce:
                    metric.all_reduce()
                values.update(metric.summary())
        return values


def build_metrics(entries, path):
    return Metrics(entries, path) if entries else None
