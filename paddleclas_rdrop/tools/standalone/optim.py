"""PaddleClas's `Optimizer` section: Momentum/SGD/Adam/AdamW, Cosine/Piecewise/Constant, warmup, L2,
clip_norm; one optimizer, or a list of them each with the `scope` (sub-network) it trains."""

import logging

import paddle

from ...core.errors import ConfigError
from .keys import single_entry, take

# the optimizers and schedules by `name`; the keys each reads are the schema's rows (adapter.schema, `of`)
OPTIMIZERS = {
    "Momentum": paddle.optimizer.Momentum,
    "SGD": paddle.optimizer.SGD,
    "Adam": paddle.optimizer.Adam,
    "AdamW": paddle.optimizer.AdamW,
}
SCHEDULES = ("Cosine", "Piecewise", "Constant")


def build_lr(section, epochs, steps_per_epoch, path="Optimizer.lr"):
    """A Paddle LR scheduler; `by_epoch` tells the engine whether it steps per epoch or per step."""
    if not isinstance(section, dict):
        return float(section)
    name = section.get("name")
    if name not in SCHEDULES:
        raise ConfigError(
            f"{path}.name: {name!r} is not supported by the standalone engine (it knows {sorted(SCHEDULES)})"
        )
    cfg = take(section, path)
    unit = 1 if cfg["by_epoch"] else steps_per_epoch
    warmup = int(round(cfg["warmup_epoch"] * unit))
    base = cfg["learning_rate"]
    if name == "Piecewise":
        decay_epochs, values = piecewise(cfg, epochs, path)
        base = values[0]
    if name == "Cosine":
        schedule = paddle.optimizer.lr.CosineAnnealingDecay(
            base, T_max=max(1, epochs * unit - warmup), eta_min=cfg["eta_min"]
        )
    elif name == "Piecewise":
        schedule = paddle.optimizer.lr.PiecewiseDecay([int(e * unit) for e in decay_epochs], values)
    else:
        schedule = paddle.optimizer.lr.PiecewiseDecay([0], [base, base])
    if warmup > 0:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, warmup, cfg["warmup_start_lr"], base)
    schedule.by_epoch = cfg["by_epoch"]
    return schedule


def build_optimizer(section, epochs, steps_per_epoch, model, path="Optimizer"):
    """([optimizer], [lr scheduler]) as PaddleClas's Engine holds them.

    `section` is one optimizer (`{name: Adam, lr: ...}`) or PaddleClas's list form
    `[{Adam: {scope: Res2Net, lr: ...}}, ...]`, where `scope` is a sublayer of the model
    (a network of a MutualModel) or `all`.
    """
    if not isinstance(section, list):
        return _build_one(section, epochs, steps_per_epoch, model.parameters(), path)
    optimizers, schedules = [], []
    for index, entry in enumerate(section):
        name, params = single_entry(entry, f"{path}.{index}")
        scope = params.pop("scope", "all")
        where = f"{path}.{index}.{name}"
        optimizer, schedule = _build_one(
            {"name": name, **params}, epochs, steps_per_epoch, _scope_parameters(model, scope, f"{where}.scope"), where
        )
        optimizers += optimizer
        schedules += schedule
    return optimizers, schedules


def _scope_parameters(model, scope, path):
    if scope == "all":
        return model.parameters()
    sublayers = dict(model.named_children())
    if scope not in sublayers:
        raise ConfigError(
            f"{path}: the model has no sublayer {scope!r} to optimize; use all or one of {sorted(sublayers)}"
        )
    return sublayers[scope].parameters()


def piecewise(cfg, epochs, path):
    """`(decay_epochs, values)` of the Piecewise section `cfg` (at `path`), as PaddleClas's `Piecewise` takes them
    (ppcls/optimizer/learning_rate.py): with a `learning_rate`, 10 times lower every 30 epochs, whatever
    `decay_epochs` and `values` say (with a warning, as PaddleClas's); else `decay_epochs` and one more value."""
    if cfg["learning_rate"]:
        decay_epochs = list(range(0, epochs, 30))
        values = [cfg["learning_rate"] * 0.1**i for i in range(len(decay_epochs))]
        decay_epochs, values = ([epochs], values * 2) if len(decay_epochs) == 1 else (decay_epochs[1:], values)
        logging.getLogger("ppcls").warning(
            f"{path}.learning_rate is set, so Piecewise lowers it 10 times every 30 epochs, as PaddleClas's does: "
            f"decay_epochs {decay_epochs} and values {values}"
        )
        return decay_epochs, values
    if not cfg["decay_epochs"] or not cfg["values"] or len(cfg["values"]) != len(cfg["decay_epochs"]) + 1:
        raise ConfigError(f"{path}: Piecewise needs decay_epochs and one more value than them")
    return cfg["decay_epochs"], cfg["values"]


def _build_one(section, epochs, steps_per_epoch, parameters, path):
    section = dict(section or {})
    name = section.get("name")
    if name not in OPTIMIZERS:
        raise ConfigError(
            f"{path}.name: {name!r} is not supported by the standalone engine (it knows {sorted(OPTIMIZERS)})"
        )
    cls = OPTIMIZERS[name]
    cfg = take(section, path)
    lr = build_lr(cfg.pop("lr"), epochs, steps_per_epoch, f"{path}.lr")
    regularizer = cfg.pop("regularizer")
    cfg.pop("name")
    if regularizer is not None:
        reg = take(regularizer, f"{path}.regularizer")
        if reg["name"] not in ("L2", "L2Decay"):
            raise ConfigError(f"{path}.regularizer.name: {reg['name']} is not supported (L2)")
        if name == "AdamW":
            raise ConfigError(f"{path}.regularizer: AdamW decays weights itself; use {path}.weight_decay")
        cfg["weight_decay"] = paddle.regularizer.L2Decay(float(reg["coeff"]))
    clip_norm = cfg.pop("clip_norm")  # as PaddleClas: each gradient's norm clipped on its own
    grad_clip = paddle.nn.ClipGradByNorm(clip_norm=float(clip_norm)) if clip_norm is not None else None
    optimizer = cls(learning_rate=lr, parameters=parameters, grad_clip=grad_clip, **cfg)
    return [optimizer], ([lr] if isinstance(lr, paddle.optimizer.lr.LRScheduler) else [])
