"""The YAML contract of R-Drop and of mutual learning, checked on a plain config dict (no
PaddleClas import)."""
import numbers

from .errors import ConfigError, RDropConfigError

STAGES = (1, 2, 3, 4)  # the residual stages of a ResNet-family backbone
RDROP_DEFAULTS = {"passes": 2, "strategy": "auto", "head_dropout": 0.0, "head_layer": "out",
                  "drop_path": 0.0, "drop_path_stages": list(STAGES)}
STRATEGIES = ("auto", "concat", "shared_trunk", "separate")
KL_REDUCTIONS = ("sum", "batchmean", "mean")


def check_passes(passes):
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 2:
        raise RDropConfigError(
            f"RDrop.passes must be an integer >= 2 (R-Drop compares k >= 2 passes), got {passes!r}")
    return passes


def check_strategy(strategy):
    if strategy not in STRATEGIES:
        raise RDropConfigError(f"RDrop.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    return strategy


def _check_rate(value, key, what, usual):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise RDropConfigError(f"RDrop.{key} must be a number in [0, 1) ({what}), got {value!r}; {usual} is usual")
    return float(value)


def check_head_dropout(head_dropout):
    return _check_rate(head_dropout, "head_dropout", "dropout before the classifier", "0.1-0.3")


def check_drop_path(drop_path):
    return _check_rate(drop_path, "drop_path", "the stochastic depth rate of the last residual block", "0.05-0.2")


def check_drop_path_stages(stages):
    if not isinstance(stages, (list, tuple)) or not stages or \
            any(isinstance(s, bool) or s not in STAGES for s in stages):
        raise RDropConfigError(
            f"RDrop.drop_path_stages must be a non-empty list of stages from {list(STAGES)} "
            f"(4 is the last), got {stages!r}")
    return sorted(set(stages))


def rdrop_settings(config):
    """The `RDrop` section with defaults filled in and checked; an unknown key is an error naming it."""
    section = config.get("RDrop") or {}
    if not isinstance(section, dict):
        raise RDropConfigError(f"RDrop must be a mapping of {sorted(RDROP_DEFAULTS)}, got {section!r}")
    unknown = sorted(set(section) - set(RDROP_DEFAULTS))
    if unknown:
        raise RDropConfigError(
            f"RDrop.{unknown[0]} is not an R-Drop setting; the settings are {sorted(RDROP_DEFAULTS)}")
    settings = {**RDROP_DEFAULTS, **section}
    check_passes(settings["passes"])
    check_strategy(settings["strategy"])
    settings["head_dropout"] = check_head_dropout(settings["head_dropout"])
    settings["drop_path"] = check_drop_path(settings["drop_path"])
    settings["drop_path_stages"] = check_drop_path_stages(settings["drop_path_stages"])
    if not isinstance(settings["head_layer"], str) or not settings["head_layer"]:
        raise RDropConfigError(f"RDrop.head_layer must be a layer name such as out, got {settings['head_layer']!r}")
    return settings


def _entries(config, split):
    return [entry for entry in ((config.get("Loss") or {}).get(split) or []) if "RDropLoss" in entry]


def check_rdrop_contract(config):
    """`train_mode: rdrop` and an `RDropLoss` entry come together; alpha is its `weight`."""
    train_mode = (config.get("Global") or {}).get("train_mode")
    train_losses = (config.get("Loss") or {}).get("Train") or []
    entries = _entries(config, "Train")
    if train_mode == "rdrop" and not entries:
        raise RDropConfigError(
            "Global.train_mode is rdrop but Loss.Train has no RDropLoss entry, so nothing would "
            "use the k passes: add `- RDropLoss: {weight: 0.6}` (weight = alpha) to Loss.Train")
    if entries and train_mode != "rdrop":
        raise RDropConfigError(
            f"Loss.Train has an RDropLoss entry but Global.train_mode is {train_mode!r}: set "
            "Global.train_mode: rdrop, the train hook that runs the k passes RDropLoss compares")
    k_pass_keys = sorted({"passes", "strategy"} & set(config.get("RDrop") or {}))
    if k_pass_keys and train_mode != "rdrop":
        raise RDropConfigError(
            f"RDrop.{k_pass_keys[0]} is set but Global.train_mode is {train_mode!r}: set "
            "Global.train_mode: rdrop for R-Drop; a baseline keeps only its stochastic layers "
            "(RDrop.head_dropout/head_layer, RDrop.drop_path/drop_path_stages)")
    if _entries(config, "Eval"):
        raise RDropConfigError(
            "Loss.Eval has an RDropLoss entry, but evaluation runs one pass: remove it from Loss.Eval")
    if not entries:
        return
    if len(entries) > 1:
        raise RDropConfigError("Loss.Train has more than one RDropLoss entry: keep one")
    if len(train_losses) == 1:
        raise RDropConfigError(
            "Loss.Train has RDropLoss alone, so training would minimise the KL term only: add the "
            "task loss beside it, e.g. `- CELoss: {weight: 1.0, epsilon: 0.1}`")
    params = entries[0]["RDropLoss"] or {}
    if "passes" in params:
        raise RDropConfigError(
            "Loss.Train.RDropLoss.passes: the number of passes is set in one place only, "
            "RDrop.passes; remove it from the loss entry")
    _check_kl_entry("RDropLoss", params, RDropConfigError)


def _check_kl_entry(name, params, error):
    """A KL loss entry's `reduction` and its `weight`, which is alpha."""
    reduction = params.get("reduction", "batchmean")
    if reduction not in KL_REDUCTIONS:
        raise error(f"Loss.Train.{name}.reduction must be one of {', '.join(KL_REDUCTIONS)} "
                    f"(batchmean keeps alpha per sample), got {reduction!r}")
    weight = params.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or weight < 0:
        raise error(f"Loss.Train.{name}.weight is alpha, the weight of the KL term, and must be a number "
                    f">= 0 (0.6 in the paper for image classification), got {weight!r}")


MUTUAL_MODEL = "MutualModel"
MUTUAL_LOSSES = ("DistillationGTCELoss", "MutualKLLoss")  # the Loss.Train entries that read networks


def check_mutual_contract(config):
    """`Arch: MutualModel` (deep mutual learning) and its losses and metric come together, and
    every network a loss or metric names exists."""
    arch = config.get("Arch") or {}
    mutual = arch.get("name") == MUTUAL_MODEL
    train = (config.get("Loss") or {}).get("Train") or []
    names = [name for entry in train for name in entry]
    metrics = [name for entry in ((config.get("Metric") or {}).get("Train") or []) for name in entry]
    eval_names = [name for entry in ((config.get("Loss") or {}).get("Eval") or []) for name in entry] + \
        [name for entry in ((config.get("Metric") or {}).get("Eval") or []) for name in entry]
    misplaced = sorted(set(eval_names) & {*MUTUAL_LOSSES, "MutualTopkAcc"})
    if misplaced:
        raise ConfigError(f"{misplaced[0]} is in Loss.Eval or Metric.Eval, but evaluation sees one network "
                          f"(the one Arch.infer_model_name names): use CELoss and TopkAcc there")
    if not mutual:
        if "MutualKLLoss" in names or "MutualTopkAcc" in metrics:
            raise ConfigError("MutualKLLoss and MutualTopkAcc read the networks of Arch.name: MutualModel "
                              f"(deep mutual learning); Arch.name is {arch.get('name')!r}")
        return
    if (config.get("Global") or {}).get("train_mode") == "rdrop":
        raise RDropConfigError("Global.train_mode: rdrop runs one network k times; Arch.name: MutualModel "
                               "already compares its networks: remove train_mode (and RDropLoss)")
    for name in names:
        if name not in MUTUAL_LOSSES:
            raise ConfigError(f"Loss.Train.{name} reads one network's output, but Arch.name is MutualModel: "
                              f"use {' and '.join(MUTUAL_LOSSES)} (CE on each network, KL between them)")
    for name in metrics:
        if name != "MutualTopkAcc":
            raise ConfigError(f"Metric.Train.{name} reads one network's output, but Arch.name is "
                              f"MutualModel: use MutualTopkAcc (top-k of every network)")
    networks = [key for entry in (arch.get("models") or []) if isinstance(entry, dict) for key in entry]
    for entry in train:
        (name, params), = entry.items()
        params = params or {}
        for key in ("model_names", "model_name_pairs"):
            if key in params and not isinstance(params[key], list):
                raise ConfigError(f"Loss.Train.{name}.{key} must be a list of network names such as "
                                  f"[Res2Net, SENet], got {params[key]!r}")
        named = params.get("model_names") or [n for pair in params.get("model_name_pairs") or [] for n in pair]
        for network in named:
            if network not in networks:
                raise ConfigError(f"Loss.Train.{name} names the network {network!r}, which is not in "
                                  f"Arch.models ({networks})")
        if name == "MutualKLLoss":
            _check_kl_entry(name, params, ConfigError)
