"""Top-k where k is at or above the class count, settled once for a run (`settle_topk`, a step of
`run_config.load_run`).

A top-k accuracy with k >= the model's class count is always 1.0: every class is among the k best. PaddleClas's
`TopkAcc` reports it as 1 with a warning (`ppcls/metric/metrics.py`, for k above the output dims); the standalone
engine reported it without a word. Both engines now get a config without it: such a k is dropped from the `topk`
of every `*TopkAcc` entry of `Metric.Train` and `Metric.Eval` before the engine is built (an entry left with no k
keeps top-1, the accuracy there is). One warning line names the keys, the class count and that such a top-k would
always be 1.0. A model of one class is left as it is.

`Infer.PostProcess.topk` is not a metric: `infer.py` and `predict.py` list the k most likely classes with their
scores, every class where k is at or above the class count (PaddleClas's `Topk`), and `predict.py --eval-list`
scores top-1 only.
"""

from typing import Any, Dict, List, Optional, Tuple

TOPK_METRICS = ("TopkAcc", "DistillationTopkAcc", "GoogLeNetTopkAcc", "MutualTopkAcc")
DEFAULT_TOPK = (1, 5)  # PaddleClas's metrics' default `topk`


def class_count(config: Dict[str, Any]) -> Optional[int]:
    """The model's class count: `Arch.class_num`, else `Global.class_num` (which PaddleClas moves there), else the
    smallest `class_num` of the networks of `Arch.models` (distillation, mutual learning); None if none is set."""
    arch, glob = config.get("Arch") or {}, config.get("Global") or {}
    found = arch.get("class_num", glob.get("class_num"))
    if found is None:
        networks = [entry for item in arch.get("models") or [] for entry in (item or {}).values()]
        counts = [net.get("class_num") for net in networks if isinstance(net, dict)]
        found = min((count for count in counts if isinstance(count, int)), default=None)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _metric_entries(config: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """[(the `-o` path of a top-k metric entry, the entry)] of `Metric.Train` and `Metric.Eval`."""
    found = []
    for split in ("Train", "Eval"):
        for index, entry in enumerate((config.get("Metric") or {}).get(split) or []):
            for name in entry if isinstance(entry, dict) else ():
                if name in TOPK_METRICS:
                    found.append((f"Metric.{split}.{index}.{name}", entry))
    return found


def _drop_from_metrics(config: Dict[str, Any], classes: int) -> Tuple[List[str], List[int]]:
    """Drop every k >= `classes` from the top-k metrics' `topk`; returns the keys changed and the k dropped."""
    keys, dropped = [], []
    for path, entry in _metric_entries(config):
        name = path.rsplit(".", 1)[-1]
        params = entry[name] if isinstance(entry[name], dict) else {}
        topk = params.get("topk", DEFAULT_TOPK)
        topk = [topk] if isinstance(topk, int) else list(topk) if isinstance(topk, (list, tuple)) else []
        if not topk or not all(isinstance(k, int) and not isinstance(k, bool) for k in topk):
            continue  # not a list of whole numbers: the engine's metric names it
        kept = [k for k in topk if k < classes] or [1]
        if kept != topk:
            if isinstance(entry[name], dict):
                entry[name]["topk"] = kept
            else:  # `- TopkAcc:` with no keys: PaddleClas's default topk
                entry[name] = {"topk": kept}
            keys.append(f"{path}.topk")
            dropped += [k for k in topk if k >= classes and k not in dropped]
    return keys, dropped


def settle_topk(config: Dict[str, Any], mode: str) -> Optional[str]:
    """Leave out of `config` (changed in place) every top-k at or above the class count that the tool of `mode`
    scores with (training and evaluation), as the module says; returns the one warning line that names what
    changed, or None."""
    classes = class_count(config)
    if mode not in ("train", "eval") or classes is None or classes < 2:
        return None
    keys, dropped = _drop_from_metrics(config, classes)
    if not keys:
        return None
    tops = ", ".join(f"top-{k}" for k in sorted(dropped))
    return (
        f"{', '.join(keys)}: {tops} left out: the model has {classes} classes (Arch.class_num), so a top-k with "
        f"k >= {classes} would always be 1.0"
    )
