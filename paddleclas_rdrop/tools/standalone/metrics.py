"""PaddleClas's `TopkAcc` metric: {"top1": ..., "top5": ...}; and `MutualTopkAcc` per network."""

from ...core.errors import ConfigError
from ...core.mutual import MutualTopkAcc
from .keys import single_entry, take


class TopkAcc(MutualTopkAcc):
    """PaddleClas's TopkAcc: top-k of one output (a dict output is read at "logits")."""

    def forward(self, x, label):
        return super().forward(x["logits"] if isinstance(x, dict) else x, label)


METRICS = {"TopkAcc": TopkAcc, "MutualTopkAcc": MutualTopkAcc}


class Metrics:
    def __init__(self, entries, path):
        self.metrics = []
        for index, entry in enumerate(entries or []):
            name, params = single_entry(entry, f"{path}.{index}")
            if name not in METRICS:
                raise ConfigError(
                    f"{path}.{index}: {name} is not supported by the standalone engine (it knows {sorted(METRICS)})"
                )
            self.metrics.append(METRICS[name](**take(params, f"{path}.{name}", {"topk": (1, 5)})))

    def __call__(self, x, label):
        out = {}
        for metric in self.metrics:
            out.update(metric(x, label))
        return out


def build_metrics(entries, path):
    return Metrics(entries, path) if entries else None
