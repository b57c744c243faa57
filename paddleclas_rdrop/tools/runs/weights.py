"""Weights that do not fit the model are refused before anything is written (Paddle only warns "Skip
loading" and goes on with random weights): at eval, export and infer any difference is an error; in
training from `Global.pretrained_model` a classifier of another class count is fine-tuning, one warning;
anything more is an error. A resume (`Global.checkpoints`) must fit whole."""

import logging
import os

from ...adapter.sections import section_of
from ...core.errors import ConfigError
from ...core.head_dropout import classifier_name


def classifier_keys(model):
    """The state_dict keys of the model's classifier (`classifier_name`: its last Linear layer)."""
    head = classifier_name(model)
    return {f"{head}.weight", f"{head}.bias"} if head else set()


def differences(model, state):
    """[(key, shape in the file or None, shape in the model or None)] of what does not fit."""
    wanted = {key: list(value.shape) for key, value in model.state_dict().items()}
    given = {key: list(value.shape) for key, value in state.items() if hasattr(value, "shape")}
    return [
        (key, given.get(key), wanted.get(key))
        for key in sorted(set(wanted) | set(given))
        if given.get(key) != wanted.get(key) and key in wanted
    ]


def check_weights(model, config, mode):
    """Raise `ConfigError` if `Global.pretrained_model`, `Global.checkpoints` (training) or an `Arch` `pretrained`
    path (`Arch.pretrained`, `Arch.models.<i>.<name>.pretrained`: the network it is loaded into) does not fit
    `model`; returns the warning line for a training run that fine-tunes a classifier of another size (or None).
    A frozen network (`Arch.freeze_params_list`) is not trained, so its classifier must fit too."""
    import paddle

    for key, prefix, net, arch, frozen in weights_named(model, config, mode):
        path = prefix if prefix.endswith(".pdparams") else f"{prefix}.pdparams"
        if os.path.exists(path):
            wrong = differences(net, paddle.load(path))
            if wrong:
                return misfit(net, arch, mode, key, path, wrong, frozen)
    return None


def weights_named(model, config, mode):
    """(key, path, the network it loads into, its Arch section, frozen) of every local weights path the config
    names that the run of `mode` loads: `Global.checkpoints` (training) and `Global.pretrained_model` into `model`,
    an `Arch` `pretrained` string into `model` or the network `Arch.models.<i>.<name>` builds."""
    from ...core.models import unwrap
    from .checkpoint_files import local_weights

    arch = section_of(config, "Arch")
    frozen_list = arch.get("freeze_params_list") or []
    for parts, value in local_weights(config, mode):
        if parts[0] == "Global" or len(parts) == 2:
            yield ".".join(parts), value, model, arch, False
        elif len(parts) == 5 and parts[1] == "models" and parts[2].isdigit():
            net = getattr(unwrap(model), parts[3], None)
            index = int(parts[2])
            frozen = index < len(frozen_list) and bool(frozen_list[index])
            if net is not None:
                yield ".".join(parts), value, net, arch["models"][index][parts[3]], frozen


def misfit(model, arch, mode, key, path, wrong, frozen=False):
    """The warning for weights at `path` (from `key`) whose classifier alone differs in a training run from
    pretrained weights (fine-tuning a network that is not frozen); else the `ConfigError` naming the `wrong`
    tensors and the fix. `arch`: the network's section (its `name`)."""
    head = classifier_keys(model)
    tensor, there, here = wrong[0]
    pretrained = key != "Global.checkpoints"
    if mode == "train" and pretrained and not frozen and {k for k, _, _ in wrong} <= head:
        return (
            f"{key}: {path} has a classifier of another size ({tensor} is "
            f"{there} there, {here} here): it is trained anew, the rest is loaded"
        )
    names = ", ".join(name for name, _, _ in wrong[:3]) + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
    section = key.rsplit(".", 1)[0] if key.startswith("Arch.models.") else "Arch"  # the network's keys
    fix = (
        f"set -o {section}.class_num={there[-1]} (the checkpoint's classes)"
        if {k for k, _, _ in wrong} <= head and there and not frozen
        else f"point {key} at weights of {section}.name {arch.get('name')}"
        + (f" trained on this run's {here[-1]} classes" if frozen and here else "")
    )
    held = " (the network is frozen: its classifier is not trained)" if frozen else ""
    raise ConfigError(
        f"{key}: {path} does not fit the model{held}: {tensor} is {there or 'missing'} there and "
        f"{here} in the model ({len(wrong)} tensors: {names}); {fix}"
    )


def log_warning(line):
    """The warning into the run's log (train.log and the console), once the engine has set it up."""
    if line:
        logging.getLogger("ppcls").warning(line)
