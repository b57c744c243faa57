"""The classes a config names, checked against the PaddleClas that builds them, before anything is written:
PaddleClas's Engine looks each name up only while it builds (`getattr(learning_rate, name)`, `eval(name)`), after
`train.log` is begun, and a name it lacks ends in an `AttributeError` or a `NameError` traceback. The standalone
engine refuses the names it does not know with its own line (`standalone.keys`).

Checked, each against the module PaddleClas takes it from (`ppcls/optimizer/__init__.py`,
`ppcls/data/__init__.py`): an optimizer's `name` (or its key in PaddleClas's list of optimizers), its `lr`'s `name`
and its `regularizer`'s (`L2` is `paddle.regularizer.L2Decay`); each split's `dataset.name` and `sampler.name`; the
operators of `transform_ops` and `batch_transform_ops` and of `Infer.transforms`.
"""

import importlib

from ..core.errors import ConfigError, did_you_mean


def check_class_names(config, engine="paddleclas"):
    """Raise `ConfigError` naming the key, the name and the closest one PaddleClas has, for the first class name
    of `config` (the dict PaddleClas's Engine reads) that the source tree's PaddleClas lacks; nothing for the
    standalone `engine`, which names the classes it does not know itself."""
    if engine != "paddleclas":
        return
    for key, name, module, suffix in named_classes(config):
        found = importlib.import_module(module)
        if not isinstance(name, str) or not hasattr(found, name + suffix):
            known = sorted(n[: len(n) - len(suffix)] for n in dir(found) if n[:1].isupper() and n.endswith(suffix))
            raise ConfigError(
                f"{key}: PaddleClas has no {name!r} in {module}{did_you_mean(name, known)}; give one of its names"
            )


def named_classes(config):
    """(key, name, module, suffix) of each class name of `config` PaddleClas's Engine looks up in `module` as
    `name + suffix`."""
    optimizers = config.get("Optimizer")
    entries = []
    if isinstance(optimizers, dict):
        entries = [("Optimizer", optimizers, optimizers.get("name"))]
    elif isinstance(optimizers, list):
        for index, entry in enumerate(optimizers):
            if isinstance(entry, dict) and len(entry) == 1:
                ((name, section),) = entry.items()
                entries.append((f"Optimizer.{index}.{name}", section or {}, name))
    for key, section, name in entries:
        if name is not None:
            yield key if key != "Optimizer" else "Optimizer.name", name, "ppcls.optimizer.optimizer", ""
        for part, module, suffix in (
            ("lr", "ppcls.optimizer.learning_rate", ""),
            ("regularizer", "paddle.regularizer", "Decay"),
        ):
            sub = section.get(part) if isinstance(section, dict) else None
            if isinstance(sub, dict) and sub.get("name") is not None:
                yield f"{key}.{part}.name", sub["name"], module, suffix
    loaders = config.get("DataLoader")
    for split, loader in loaders.items() if isinstance(loaders, dict) else ():
        if not isinstance(loader, dict):
            continue
        for part in ("dataset", "sampler"):
            section = loader.get(part)
            if isinstance(section, dict) and section.get("name") is not None:
                yield f"DataLoader.{split}.{part}.name", section["name"], "ppcls.data", ""
        dataset = loader.get("dataset") if isinstance(loader.get("dataset"), dict) else {}
        for ops in ("transform_ops", "batch_transform_ops"):
            yield from operators(f"DataLoader.{split}.dataset.{ops}", dataset.get(ops))
    infer = config.get("Infer")
    if isinstance(infer, dict):
        yield from operators("Infer.transforms", infer.get("transforms"))


def operators(key, ops):
    """(key, name, module, suffix) of each operator of a list of `{name: params}` entries at `key`."""
    for index, entry in enumerate(ops if isinstance(ops, list) else ()):
        if isinstance(entry, dict) and len(entry) == 1:
            yield f"{key}.{index}", next(iter(entry)), "ppcls.data.preprocess", ""
