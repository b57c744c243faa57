"""Which config keys the standalone engine honours: any other key is an error that names it."""

from ...core.errors import ConfigError

FALLBACK_HINT = "remove it, or run with a PaddleClas source tree (PADDLECLAS_ROOT), whose engine has it"


def take(section, path, defaults, required=()):
    """`section` with `defaults` filled in; an unknown or missing key is a `ConfigError`."""
    section = dict(section or {})
    unknown = sorted(set(section) - set(defaults) - set(required))
    if unknown:
        raise ConfigError(
            f"{path}.{unknown[0]} is not supported by the standalone engine "
            f"(it knows {sorted({*defaults, *required})}): {FALLBACK_HINT}"
        )
    missing = [key for key in required if section.get(key) is None]
    if missing:
        raise ConfigError(f"{path}.{missing[0]} is required")
    return {**defaults, **section}


def single_entry(entry, path):
    """`(name, params)` of a one-key list entry such as `- CELoss: {weight: 1.0}`."""
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ConfigError(f"{path} must be a one-key mapping such as `- Name: {{...}}`, got {entry!r}")
    ((name, params),) = entry.items()
    return name, dict(params or {})


TOP_LEVEL = {"Global", "AMP", "Arch", "Loss", "Optimizer", "DataLoader", "Infer", "Metric", "EMA", "RDrop"}

GLOBAL = {
    "checkpoints": None,
    "pretrained_model": None,
    "output_dir": "./output/",
    "device": "cpu",
    "save_interval": 1,
    "eval_during_train": True,
    "eval_interval": 1,
    "epochs": 1,
    "print_batch_step": 10,
    "use_visualdl": False,
    "image_shape": [3, 224, 224],
    "save_inference_dir": "./inference",
    "train_mode": None,
    "seed": None,
    "update_freq": 1,
    "log_ranks": "0",
    "start_eval_epoch": 0,
    "class_num": None,
}
AMP = {
    "use_amp": False,
    "use_fp16_test": False,
    "scale_loss": 1.0,
    "use_dynamic_loss_scaling": False,
    "use_promote": False,
    "level": "O1",
}


def check_top_level(config):
    unknown = sorted(set(config) - TOP_LEVEL)
    if unknown:
        raise ConfigError(
            f"{unknown[0]} is not a section the standalone engine knows (it knows {sorted(TOP_LEVEL)}): {FALLBACK_HINT}"
        )
