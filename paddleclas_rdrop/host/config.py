"""The YAML contract of R-Drop, checked on a plain config dict (no
PaddleClas import): the YAML mapped onto the settings of the runner and the losses, whose own
checks validate the values; this module adds the key names and the rules between sections."""
import numbers

from ..passes.drop_path import STAGES, check_drop_path, check_drop_path_stages
from ..errors import RDropConfigError
from ..kl import check_reduction
from ..passes.runner import check_head_dropout, check_passes, check_strategy

RDROP_DEFAULTS = {"passes": 2, "strategy": "auto", "head_dropout": 0.0, "head_layer": "out",
                  "drop_path": 0.0, "drop_path_stages": list(STAGES)}
RDROP_KEY_HELP = {  # what the tools' -h says of each key
    "passes": "k, the passes of every sample",
    "strategy": "auto | concat | shared_trunk | separate: how the k passes run (auto: the cheapest exact one)",
    "head_dropout": "dropout rate added before the classifier",
    "head_layer": "the classifier's sublayer name",
    "drop_path": "stochastic depth rate of the last residual block (linear from 0), training only",
    "drop_path_stages": "the stages (1-4) that get drop path",
}


def keys_help():
    """The R-Drop keys of a PaddleClas YAML, one line each, for the tools' -h."""
    lines = ["Global.train_mode: rdrop  k passes and the KL term (anything else: one pass)"]
    lines += [f"RDrop.{key}: {RDROP_DEFAULTS[key]}  {text}" for key, text in RDROP_KEY_HELP.items()]
    lines += ["Loss.Train: - RDropLoss: {weight: alpha, reduction: batchmean}  the KL term (sum: alpha per batch)"]
    return lines


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
    check_kl_entry("RDropLoss", params, RDropConfigError)


def check_kl_entry(name, params, error):
    """A KL loss entry's `reduction` and its `weight`, which is alpha."""
    try:
        check_reduction(params.get("reduction", "batchmean"), f"Loss.Train.{name}")
    except ValueError as why:
        raise error(str(why)) from None
    weight = params.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or weight < 0:
        raise error(f"Loss.Train.{name}.weight is alpha, the weight of the KL term, and must be a number "
                    f">= 0 (0.6 in the paper for image classification), got {weight!r}")
