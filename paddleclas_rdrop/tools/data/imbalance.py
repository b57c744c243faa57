"""The two keys for imbalanced classes, settled once for a run (`settle_imbalance`, a step of
`run_config.load_run`), before either engine is built, so that both build the same loss and sampler:

- a `ClassWeightedCELoss` entry of `Loss.Train` or `Loss.Eval` (`core.class_weighted_ce`): its keys; its
  ``class_weights: balanced`` made the list of one weight per class that the loss takes, scikit-learn's
  ``compute_class_weight("balanced")`` of the train list's labels (n_images / (n_classes x the class's
  images)); a list given of the class count's length;
- ``DataLoader.Train.sampler.name: ClassBalancedSampler`` (`adapter.balanced_sampler`): its ``seed``, when
  left out, `Global.seed` (0 without one), so that a run's seed sets the draw; refused on another split, where
  every image is read once, and with `Global.use_multilabel`; a ``seed`` on another sampler refused (PaddleClas's
  samplers take none).

The value of each key (its type, range, the string ``balanced``) is the schema's to check (`adapter.schema`,
`values.check_values`), which runs first; what needs another key (the class count, the train list) is here.
"""

from typing import Any, Dict, List, Tuple

from ...adapter.schema import rows_under
from ...adapter.sections import section_of
from ...core.errors import ConfigError, DataError, did_you_mean
from .lists import check_label_range, dataset_lists, parse_list_file
from .text import shown
from .topk import class_count

LOSS = "ClassWeightedCELoss"
SAMPLER = "ClassBalancedSampler"


def settle_imbalance(config: Dict[str, Any], mode: str) -> None:
    """Check and settle, in `config` (changed in place), the `ClassWeightedCELoss` entries of the losses the tool
    of `mode` builds (`Loss.Train` and `Loss.Eval` in training, `Loss.Eval` in evaluation) and the
    `ClassBalancedSampler`, as the module says. Raises
    `ConfigError`, or the train list's `DataError`."""
    multilabel = bool(section_of(config, "Global").get("use_multilabel"))
    splits = {"train": ("Train", "Eval"), "eval": ("Eval",)}.get(mode, ())
    for path, params in _loss_entries(config, splits):
        _check_entry(path, params, multilabel)
        params["class_weights"] = _class_weights(config, path, params["class_weights"])
    for split, section in section_of(config, "DataLoader").items():
        if isinstance(section, dict) and isinstance(section.get("sampler"), dict):
            _settle_sampler(config, f"DataLoader.{split}.sampler", section["sampler"], multilabel)


def _loss_entries(config: Dict[str, Any], splits: Tuple[str, ...]) -> List[Tuple[str, Dict[str, Any]]]:
    """[(the `-o` path of a `ClassWeightedCELoss` entry, its parameters)] of `Loss.<split>` for `splits`."""
    found = []
    for split in splits:
        for index, entry in enumerate(section_of(config, "Loss").get(split) or []):
            if isinstance(entry, dict) and LOSS in entry:
                entry[LOSS] = entry[LOSS] if isinstance(entry[LOSS], dict) else {}
                found.append((f"Loss.{split}.{index}.{LOSS}", entry[LOSS]))
    return found


def _check_entry(path: str, params: Dict[str, Any], multilabel: bool) -> None:
    if multilabel:
        raise ConfigError(
            f"{path}: {LOSS} weighs the classes of a single-label list, but Global.use_multilabel is True: use "
            f"MultiLabelLoss with weight_ratio: True, which weighs each label by its share of positives"
        )
    keys = [key.parts[-1] for key in rows_under(path)]  # the schema's rows
    unknown = sorted(set(params) - set(keys))
    if unknown:
        raise ConfigError(
            f"{path}.{unknown[0]} is not a key of {LOSS}{did_you_mean(unknown[0], keys)}; its keys are {keys}"
        )
    if params.get("class_weights") is None:
        raise ConfigError(
            f"{path}.class_weights is required: balanced (from the train list's class counts) or a list of one "
            f"weight per class"
        )


def _class_weights(config: Dict[str, Any], path: str, weights: Any) -> List[float]:
    """The weights of the entry at `path`: `weights` itself (a list, checked against the class count), or for
    ``balanced`` scikit-learn's balanced weights of the train list's labels."""
    classes = class_count(config)
    if weights != "balanced":
        if classes is not None and len(weights) != classes:
            raise ConfigError(
                f"{path}.class_weights has {len(weights)} weights but the model has {classes} classes "
                f"(Arch.class_num): give one weight per class, or class_weights: balanced"
            )
        return [float(weight) for weight in weights]
    lists = [found for found in dataset_lists(config, ["Train"]) if not found[3]]
    if not lists:
        raise ConfigError(
            f"{path}.class_weights: balanced counts the classes of DataLoader.Train's ImageNetDataset list, which "
            f"this config does not name: give a list of one weight per class"
        )
    labels = parse_list_file(*lists[0])[1]
    classes = classes if classes is not None else int(labels.max()) + 1
    check_label_range(labels, classes, lists[0][1])
    return balanced_weights(labels, classes, path, lists[0][1])


def balanced_weights(labels: Any, classes: int, path: str = "class_weights", list_path: str = "") -> List[float]:
    """scikit-learn's ``compute_class_weight("balanced")`` of the int `labels` ``[N]`` over the classes
    0 .. `classes` - 1: n_images / (n_classes x the class's images), a list of `classes` floats (mean 1 over the
    images). A class without an image has no such weight: a `DataError` naming it, `path` and `list_path`."""
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    counts = np.bincount(labels, minlength=classes)
    if not counts.all():
        missing = int(np.flatnonzero(counts == 0)[0])
        raise DataError(
            f"{path}: balanced weighs each class by its images in {shown(list_path)}, which has none of class "
            f"{missing} (of {classes}, Arch.class_num): give class_weights as a list of {classes} weights, or fix "
            f"Arch.class_num"
        )
    return [float(w) for w in compute_class_weight("balanced", classes=np.arange(classes), y=labels)]


def _settle_sampler(config: Dict[str, Any], path: str, sampler: Dict[str, Any], multilabel: bool) -> None:
    if sampler.get("name") != SAMPLER:
        if sampler.get("seed") is not None:
            raise ConfigError(f"{path}.seed: only {SAMPLER} reads it: remove it, or set {path}.name: {SAMPLER}")
        return
    if path != "DataLoader.Train.sampler":
        raise ConfigError(
            f"{path}.name: {SAMPLER} draws training batches with replacement, but this split reads every image "
            f"once: set {path}.name: DistributedBatchSampler"
        )
    if multilabel:
        raise ConfigError(
            f"{path}.name: {SAMPLER} draws the classes of a single-label list, but Global.use_multilabel is True: "
            f"set {path}.name: DistributedBatchSampler (MultiLabelLoss's weight_ratio: True weighs rare labels)"
        )
    if sampler.get("seed") is None:
        seed = section_of(config, "Global").get("seed")
        sampler["seed"] = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
