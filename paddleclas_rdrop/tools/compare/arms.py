"""The arms of a comparison, each a PaddleClas config derived from one R-Drop recipe.

The baseline twin is the recipe without R-Drop: no `Global.train_mode`, no `RDropLoss` entry, no k-pass
key, the same stochastic layers (`RDrop.head_dropout`, `RDrop.drop_path`, the model's own dropout): one
pass, CE only. The shipped `configs/baseline_*.yaml` are exactly that (tests/tools/compare/test_compare.py).
"""

import copy

from ...adapter.schema import layer_keys
from ...core.errors import ConfigError, did_you_mean

ARMS = {  # name: what it trains
    "baseline": "the baseline twin: the recipe without R-Drop (the same stochastic layers, one pass, CE only)",
    "rdrop": "the recipe as given (k passes, CE + alpha x KL)",
    "views_ce": "the twin with RDrop.augment_per_pass: k augmented views of each sample, CE only (the control)",
    "views_kl": "the recipe with RDrop.augment_per_pass: each pass its own augmented view, CE + alpha x KL",
    "baseline_long": "the twin trained for as many epochs as match the rdrop arm's measured training time",
}
DEFAULT_ARMS = ("baseline", "rdrop")


def parse_arms(text):
    """The arms of `--arms` (comma-separated names of `ARMS`), in `ARMS` order; `ConfigError` for an
    unknown name, none at all, or baseline_long without rdrop and baseline (its time reference)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in ARMS:
            raise ConfigError(
                f"--arms: {name!r} is not an arm{did_you_mean(name, ARMS)}; the arms are {', '.join(ARMS)}"
            )
    chosen = set(names)
    if not chosen:
        raise ConfigError(f"--arms is empty: give some of {', '.join(ARMS)}, e.g. --arms {','.join(DEFAULT_ARMS)}")
    if "baseline_long" in chosen and not {"rdrop", "baseline"} <= chosen:
        raise ConfigError(
            "--arms: baseline_long trains the baseline as long as the rdrop arm's measured training time takes "
            "it: add baseline and rdrop to --arms"
        )
    return [name for name in ARMS if name in chosen]


def baseline_twin(config, source):
    """`config` (a recipe: `Global.train_mode: rdrop` and an `RDropLoss` entry) without R-Drop; a new
    dict. `ConfigError` naming `source` (the -c file) when the config trains no R-Drop."""
    twin = copy.deepcopy(config)
    glob = twin.get("Global") or {}
    if glob.get("train_mode") != "rdrop":
        raise ConfigError(
            f"-c {source} has no baseline twin to compare with: it is not an R-Drop recipe (Global.train_mode "
            f"is {glob.get('train_mode')!r}, not rdrop); give an R-Drop recipe such as configs/rdrop_se_resnet.yaml"
        )
    glob.pop("train_mode")
    twin["Loss"]["Train"] = [entry for entry in twin["Loss"]["Train"] if "RDropLoss" not in entry]
    layers = {key: value for key, value in (twin.pop("RDrop", None) or {}).items() if key in layer_keys()}
    if layers:
        twin["RDrop"] = layers
    return twin


def arm_configs(config, arms, source):
    """{arm: its config} for `arms`, derived from the recipe `config` (read from `source`)."""
    twin = baseline_twin(config, source)
    passes = (config.get("RDrop") or {}).get("passes", 2)
    made = {}
    for arm in arms:
        if arm in ("baseline", "baseline_long"):
            made[arm] = copy.deepcopy(twin)
        elif arm == "rdrop":
            made[arm] = copy.deepcopy(config)
        elif arm == "views_ce":
            made[arm] = copy.deepcopy(twin)
            made[arm].setdefault("RDrop", {}).update({"augment_per_pass": True, "passes": passes})
        elif arm == "views_kl":
            made[arm] = copy.deepcopy(config)
            made[arm].setdefault("RDrop", {})["augment_per_pass"] = True
    return made


def plain(value):
    """`value` with PaddleClas's AttrDicts (and tuples) made plain dicts and lists, for `yaml.safe_dump`."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
