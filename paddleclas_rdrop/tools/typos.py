"""An `-o` key that the YAML does not have but that is close to one it has is a typo: PaddleClas would
add it as a new key (its "A new field ... detected!" line) and train on without it. The tools refuse
it in one line with the key it is close to (`did_you_mean`).

A new key that PaddleClas reads where its recipes often leave it out (`OPTIONAL_KEYS`), or that is close
to no key of its section, is taken as it is: PaddleClas's configs leave many keys to their defaults.
"""

import yaml

from ..core.errors import ConfigError, did_you_mean
from .standalone.keys import GLOBAL, PADDLECLAS_GLOBAL

# Keys PaddleClas reads that its recipes often leave out, by section (`*`: any one key), besides Global's
# (the standalone engine's and PaddleClas's Engine's). `data/overrides.py` sets some of them.
OPTIONAL_KEYS = {
    ("Global",): set(GLOBAL) | PADDLECLAS_GLOBAL,
    ("Optimizer",): {"clip_norm", "no_weight_decay_name", "one_dim_param_no_weight_decay", "multi_precision"},
    ("Optimizer", "lr"): {"warmup_epoch", "warmup_start_lr", "eta_min", "by_epoch", "last_epoch"},
    ("DataLoader", "*", "dataset"): {"batch_transform_ops", "delimiter", "relabel"},
    ("DataLoader", "*", "sampler"): {"drop_last", "shuffle"},
    ("DataLoader", "*", "loader"): {"num_workers", "use_shared_memory"},
}


def optional(parents, leaf):
    """Whether `leaf` under the section path `parents` is one of `OPTIONAL_KEYS`."""
    return any(
        len(section) == len(parents)
        and all(part in ("*", given) for part, given in zip(section, parents))
        and leaf in keys
        for section, keys in OPTIONAL_KEYS.items()
    )


def check_overrides(config_path, overrides):
    """Refuse (`ConfigError`) an `-o key=value` of `overrides` whose last key is not in the YAML at
    `config_path` but is close to a key beside it; `-o` strings without `=` are left to PaddleClas."""
    with open(config_path) as handle:
        yaml_config = yaml.safe_load(handle) or {}
    for override in overrides:
        key = override.split("=", 1)[0]
        *parents, leaf = key.split(".")
        node = yaml_config
        for part in parents:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = None
                break
        if not isinstance(node, dict) or leaf in node or optional(parents, leaf):
            continue
        hint = did_you_mean(leaf, [str(name) for name in node])
        if hint:
            raise ConfigError(f"-o {key}: {config_path} has no {key}{hint}")
