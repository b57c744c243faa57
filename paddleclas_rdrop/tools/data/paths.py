"""The one resolver of the paths a config names: every key of rule kind `path` in the schema
(`adapter/schema.KEYS`) goes through `resolve_paths` once, right after the `-o` overrides are applied
(`run_config.load_run`; `predict.load_config` and `compare.command.load` too).

The rule, the same for every such key:
- a leading `~` is the home folder (`$HOME`), `~user` that user's; `$VAR` and `${VAR}` are the environment
  variable's value. An undefined variable or an unknown user is one `ConfigError` naming the key.
- Nothing else changes: a relative path stays relative to the working directory, and a trailing slash stays,
  as PaddleClas reads them.
- A `checkpoint` key (`Global.pretrained_model`, `Global.checkpoints`, an `Arch` `pretrained` string) names
  weights: a path without `.pdparams` whose `.pdparams` file exists (a path ending in `.pdparams` loses the
  ending), or a URL PaddleClas downloads. A folder is refused with the checkpoints in it (`latest`,
  `best_model`, `epoch_<n>`, and those one folder down: PaddleClas's `output_dir/<Arch.name>/`); a path
  with no `.pdparams` file is refused; a URL that is neither in PaddleClas's download folder nor answers
  a HEAD request within `URL_TIMEOUT` seconds is refused with the fix (download it, give its path).
"""

import os
import re
from typing import Any, ContextManager, Dict, Iterator, List, Mapping, Optional, Tuple

from ...adapter.schema import Key, key_for
from ...core.errors import ConfigError, naming_paths

VARIABLE = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
URLS = ("http://", "https://")
URL_TIMEOUT = 5.0  # seconds a URL of weights has to answer
WEIGHTS_CACHE = "~/.paddleclas/weights"  # where PaddleClas's download keeps a URL's file (its WEIGHTS_HOME)
SHOWN = 4  # checkpoints named in a folder's refusal


def expand(key: str, value: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """`value` of config key `key` with a leading `~` or `~user` and every `$VAR` / `${VAR}` expanded (from
    `environ`, default `os.environ`). Raises `ConfigError` for an unknown user or an undefined variable."""
    environ = os.environ if environ is None else environ
    return _variables(key, value, _home(key, value, environ), environ)


def _home(key: str, value: str, environ: Mapping[str, str]) -> str:
    """`value` with its leading `~` (`$HOME`) or `~user` (from the password database) expanded."""
    if not value.startswith("~"):
        return value
    user = value[1:].split("/", 1)[0]
    import pwd

    if not user:
        home = environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    else:
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            raise ConfigError(
                f"{key}: {value!r} starts with ~{user}, the home of user {user!r}, who is not known here: "
                f"write the folder out (-o {key}=/home/.../{value[len(user) + 2 :]})"
            ) from None
    return (home.rstrip("/") + value[1 + len(user) :]) or "/"


def _variables(key: str, original: str, value: str, environ: Mapping[str, str]) -> str:
    """`value` with every `$VAR` and `${VAR}` replaced by its value in `environ`; `original` is the value as
    given, for the error."""

    def one(match: "re.Match[str]") -> str:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if not NAME.match(name):
            raise ConfigError(
                f"{key}: {match.group(0)} in {original!r} is not an environment variable's name: "
                f"write ${{NAME}} with a name of letters, digits and _"
            )
        if name not in environ:
            raise ConfigError(
                f"{key}: the environment variable {name} in {original!r} is not set: set it "
                f"(export {name}=...) or write the path out"
            )
        return environ[name]

    return VARIABLE.sub(one, value)


def checkpoint_path(key: str, value: str, arch_name: Optional[str] = None, timeout: float = URL_TIMEOUT) -> str:
    """The weights `value` of `checkpoint` key `key` names, as PaddleClas's loaders take them: a URL (checked:
    `check_url`), or a path without `.pdparams` whose `.pdparams` file exists. Raises `ConfigError` for a
    folder (naming the checkpoints in it, and in its `arch_name` folder), a path with no such file, and a URL
    that cannot be fetched."""
    if value.startswith(URLS):
        check_url(key, value, timeout)
        return value
    if value.endswith(".pdparams") and os.path.isfile(value):
        return value[: -len(".pdparams")]
    if os.path.isfile(f"{value}.pdparams"):
        return value
    if os.path.isdir(value):
        raise ConfigError(folder_refusal(key, value, arch_name))
    raise ConfigError(
        f"{key}: {value}.pdparams does not exist: give the path of a checkpoint without .pdparams "
        f"(-o {key}=output/my_run/best_model), or a run folder to see the checkpoints in it"
    )


def folder_refusal(key: str, folder: str, arch_name: Optional[str] = None) -> str:
    """The one line for a folder given where a checkpoint is expected: the checkpoints in it, or that it has none."""
    found = checkpoints_in(folder)
    if not found:
        under = f" nor in {os.path.join(folder, arch_name)}" if arch_name else ""
        return (
            f"{key}: {folder} is a folder with no checkpoint (.pdparams file) in it{under}: give the path of a "
            f"checkpoint without .pdparams (-o {key}=output/my_run/best_model)"
        )
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return (
        f"{key}: {folder} is a folder, not a checkpoint: give one of its checkpoints without .pdparams, "
        f"{', '.join(found[:SHOWN])}{more} (-o {key}={found[0]})"
    )


def checkpoints_in(folder: str) -> List[str]:
    """The checkpoints (paths without `.pdparams`) in `folder` and in its folders one level down
    (PaddleClas's `output_dir/<Arch.name>/`, `best_model/`; not the hidden ones, such as a save's
    `.partial-*`): `latest` first, then `best_model`, then the
    `epoch_<n>` newest first, then the others."""

    def order(path: str) -> Tuple[int, int, float, str]:
        name = os.path.basename(path)
        epoch = re.fullmatch(r"epoch_(\d+)", name)
        rank = {"latest": 0, "best_model": 1}.get(name, 2 if epoch else 3)
        return (path.count("/"), rank, -int(epoch.group(1)) if epoch else 0, path)

    found = []
    for root in [folder] + sorted(
        os.path.join(folder, sub)
        for sub in os.listdir(folder)
        if not sub.startswith(".") and os.path.isdir(os.path.join(folder, sub))
    ):
        found += [
            os.path.join(root, name[: -len(".pdparams")]) for name in os.listdir(root) if name.endswith(".pdparams")
        ]
    return sorted(found, key=order)


def check_url(key: str, url: str, timeout: float = URL_TIMEOUT) -> None:
    """Raise `ConfigError` unless the weights at `url` are in PaddleClas's download folder already or the
    URL answers a HEAD request within `timeout` seconds (any answer but an HTTP error of 400 and above;
    405, a server that takes GET only, counts as an answer)."""
    import urllib.error
    import urllib.request

    if os.path.isfile(os.path.join(os.path.expanduser(WEIGHTS_CACHE), url.split("/")[-1])):
        return
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        return
    except urllib.error.HTTPError as error:
        if error.code == 405:
            return
        reason = f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = str(getattr(error, "reason", error))
    raise ConfigError(
        f"{key}: {url} cannot be fetched here ({reason}): download the file where there is a network and give "
        f"its path without .pdparams (-o {key}=<folder>/<name>)"
    )


def path_values(config: Any, path: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], Any, Any, Key]]:
    """(key parts, parent, key in parent, schema row) of every value under `config` that a `path` row of the schema
    declares (mappings and lists walked; list indices as strings in the parts)."""
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    for leaf, value in items:
        parts = path + (str(leaf),)
        row = key_for(parts)
        if row is not None and row.rule is not None and row.rule.kind == "path":
            yield parts, config, leaf, row
        else:
            yield from path_values(value, parts)


def naming_config_paths(config: Any) -> ContextManager[None]:
    """`core.errors.naming_paths` of every path `config` names (`path_values`): an OSError of a file at or under one
    of them (a folder under `Global.output_dir` that cannot be made) is a `PathError` naming its key."""
    return naming_paths({".".join(parts): parent[leaf] for parts, parent, leaf, _ in path_values(config)})


def resolve_paths(
    config: Dict[str, Any], check: bool = True, environ: Optional[Mapping[str, str]] = None
) -> Dict[str, Any]:
    """`config` (changed in place, and returned) with every path it names expanded (`expand`) and, with
    `check`, the weights of its `checkpoint` keys resolved (`checkpoint_path`). A value that is not a
    non-empty string is left to the value check (`values.check_values`). Raises `ConfigError`."""
    arch = config.get("Arch")
    arch_name = arch.get("name") if isinstance(arch, dict) else None
    for parts, parent, leaf, row in list(path_values(config)):
        value, key = parent[leaf], ".".join(parts)
        if not isinstance(value, str) or not value:
            continue
        value = expand(key, value, environ)
        if check and row.checkpoint:
            value = checkpoint_path(key, value, arch_name)
        parent[leaf] = value
    return config
