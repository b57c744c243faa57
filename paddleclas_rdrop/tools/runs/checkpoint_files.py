"""The files a run loads from the checkpoints its config names are there and read back, before anything is
written: PaddleClas's `save_load.init_model` (both engines load through it) asserts that a resume's `.pdparams`
and `.pdopt` exist and `paddle.load`s them, its `.pdstates` and, with `EMA`, its `.pdema`; a file that is
missing, cut short (a copy that stopped, a full disk), empty or not written by `paddle.save` ended there in a
traceback after `train.log` was begun.

- A resume (`Global.checkpoints`, training only; eval, export and infer read `Global.pretrained_model`): the
  `.pdparams`, `.pdopt` and `.pdstates`, and the `.pdema` where the config has `EMA`.
- `Global.pretrained_model`, an `Arch` `pretrained` string: the `.pdparams`. A URL is the downloader's
  (`data.paths.check_url`).
- Eval, export and infer read no `Global.checkpoints` (PaddleClas's `init_model` loads it with an optimizer
  only): one given without `Global.pretrained_model` is an error; no weights at all (`Arch.pretrained` off too)
  evaluate or export the model's random initial weights, with one warning (`untrained_warning`).
"""

import os

from ...core.errors import ConfigError, DataError, first_line


def resume_parts(config):
    """The files' endings a resume from `Global.checkpoints` loads under `config`."""
    return (".pdparams", ".pdopt", ".pdstates") + ((".pdema",) if config.get("EMA") else ())


def check_checkpoint_files(config, mode):
    """Raise `DataError` naming the key, the file and the fix where a file the run of `mode` loads from the
    weights its config names (every `checkpoint` path key of the schema: `Global.checkpoints` in training,
    `Global.pretrained_model`, an `Arch` `pretrained` string; paths without `.pdparams`, as
    `data.paths.resolve_paths` leaves them) is missing or does not load."""
    for parts, value in local_weights(config, mode):
        parts_loaded = resume_parts(config) if parts == ("Global", "checkpoints") else (".pdparams",)
        for part in parts_loaded:
            load_part(".".join(parts), value, part, parts_loaded)


def local_weights(config, mode):
    """(key parts, path without .pdparams) of every local weights path the run of `mode` loads: the schema's
    `checkpoint` keys holding a path that is not a URL (the downloader's), `Global.checkpoints` in training only;
    `Global.checkpoints`, then `Global.pretrained_model`, then the `Arch` ones."""
    from ..data.paths import URLS, path_values

    found = [
        (parts, parent[leaf])
        for parts, parent, leaf, row in path_values(config)
        if row.checkpoint and isinstance(parent[leaf], str) and parent[leaf] and not parent[leaf].startswith(URLS)
    ]
    order = {("Global", "checkpoints"): 0, ("Global", "pretrained_model"): 1}
    return [
        (parts, value)
        for parts, value in sorted(found, key=lambda item: order.get(item[0], 2))
        if parts != ("Global", "checkpoints") or mode == "train"
    ]


def untrained_warning(config, mode):
    """For eval, export and infer (`mode`), the warning line where the model keeps its random initial weights (no
    `Global.pretrained_model`, no `Arch` `pretrained` set), else None. Raises `ConfigError` where
    `Global.checkpoints` is set instead: those modes do not read it."""
    from ..data.paths import path_values

    if mode == "train":
        return None
    given = [".".join(parts) for parts, parent, leaf, row in path_values(config) if row.checkpoint and parent[leaf]]
    if "Global.checkpoints" in given and "Global.pretrained_model" not in given:
        value = config["Global"]["checkpoints"]
        raise ConfigError(
            f"Global.checkpoints: {value} is read by tools/train.py only (a resume); {tool_of(mode)} loads "
            f"Global.pretrained_model: give -o Global.pretrained_model={value}"
        )
    if given:
        return None
    return (
        f"no weights are loaded (Global.pretrained_model is not set, nor Arch.pretrained): {tool_of(mode)} "
        "uses the model's random initial weights; give the trained ones with "
        "-o Global.pretrained_model=<output_dir>/best_model"
    )


def tool_of(mode):
    """The script of the tools' `mode` (eval, export, infer)."""
    return "tools/export_model.py" if mode == "export" else f"tools/{mode}.py"


def load_part(key, prefix, part, parts):
    """`paddle.load` of `prefix + part`, one of the files (`parts`) the run loads from the checkpoint `key`
    names: a dict (a list too for a `.pdopt`: PaddleClas saves several optimizers' states as one). Raises
    `DataError` naming the file and the fix where it is missing or does not load."""
    import paddle

    path, fix = prefix + part, fix_of(key, prefix)
    if not os.path.isfile(path):
        raise DataError(f"{key}: {path} does not exist (the run loads {prefix}'s {', '.join(parts)}); {fix}")
    try:
        loaded = paddle.load(path)
    except Exception as error:  # a user's file: any failure to read it back is the file's
        raise DataError(
            f"{key}: {path} cannot be read ({os.path.getsize(path)} bytes; {first_line(error)}): it is cut short "
            f"or not a file paddle.save wrote; {fix}"
        ) from None
    if not isinstance(loaded, (dict, list) if part == ".pdopt" else dict):
        raise DataError(f"{key}: {path} holds a {type(loaded).__name__}, not the dict a checkpoint's file holds; {fix}")
    return loaded


def fix_of(key, prefix):
    """What to do about a checkpoint of `key` at `prefix` that cannot be read."""
    if key == "Global.checkpoints":
        return (
            f"resume from another checkpoint of {os.path.dirname(prefix) or '.'} (-o Global.checkpoints=<its path "
            f"without .pdparams>), or, if its .pdparams reads, train anew from its weights with "
            f"-o Global.pretrained_model={prefix} into another Global.output_dir"
        )
    return f"point {key} at weights that paddle.save wrote whole (a path without .pdparams)"
