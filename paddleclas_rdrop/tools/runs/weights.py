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
    """Raise `ConfigError` if `Global.pretrained_model` or `Global.checkpoints` does not fit `model`;
    returns the warning line for a training run that fine-tunes a classifier of another size (or None)."""
    import paddle

    global_section = section_of(config, "Global")
    for key in ("checkpoints", "pretrained_model"):
        prefix = global_section.get(key)
        if prefix and not (key == "checkpoints" and mode != "train"):
            path = prefix if prefix.endswith(".pdparams") else f"{prefix}.pdparams"
            if os.path.exists(path):
                wrong = differences(model, paddle.load(path))
                if wrong:
                    return misfit(model, config, mode, key, path, wrong)
    return None


def misfit(model, config, mode, key, path, wrong):
    """The warning for weights at `path` (from `Global.<key>`) whose classifier alone differs in a training run
    from pretrained weights (fine-tuning); else the `ConfigError` naming the `wrong` tensors and the fix."""
    head = classifier_keys(model)
    tensor, there, here = wrong[0]
    if mode == "train" and key == "pretrained_model" and {k for k, _, _ in wrong} <= head:
        return (
            f"Global.pretrained_model: {path} has a classifier of another size ({tensor} is "
            f"{there} there, {here} here): it is trained anew, the rest is loaded"
        )
    names = ", ".join(name for name, _, _ in wrong[:3]) + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
    fix = (
        f"set -o Arch.class_num={there[-1]} (the checkpoint's classes)"
        if {k for k, _, _ in wrong} <= head and there
        else f"point Global.{key} at weights of Arch.name {config['Arch'].get('name')}"
    )
    raise ConfigError(
        f"Global.{key}: {path} does not fit the model: {tensor} is {there or 'missing'} there and "
        f"{here} in the model ({len(wrong)} tensors: {names}); {fix}"
    )


def log_warning(line):
    """The warning into the run's log (train.log and the console), once the engine has set it up."""
    if line:
        logging.getLogger("ppcls").warning(line)
