"""Config keys that nothing reads, checked against the YAML and the schema (`adapter.schema.KEYS`, one row a key
the engines read) before anything is built or written.

- An `-o` key is a path of key names joined by single dots (`Global.epochs`): an empty part (`-o =3`,
  `Global..epochs`, a leading or trailing dot), spaces around a part (`-o " Global.epochs=3"`) or a step below
  a value that is not a section (`Global.epochs.x`, or below a section left empty, `null`) is refused in one
  line, where PaddleClas's parser would end in a traceback or add a new section nobody reads.
- An `-o` that adds a key (at any depth: `DataLoader.Trian.sampler.batch_size` adds `DataLoader.Trian`) close to
  a key beside it in the YAML or in the schema is a typo: PaddleClas would add it as a new key (its "A new
  field ... detected!" line) and train on without it. It is refused with the key it is close to
  (`did_you_mean`). A new key of the schema's, or of a class's arguments, is its reader's; any other new key is taken
  with a note (`check_overrides` returns it), as PaddleClas's "A new field" line, which the tools do not print.
- A key of the YAML file itself that no row of the schema declares but that is close to one that does
  (`Epochs` or `save_intreval` under `Global`) is named in a warning (`unread_keys`): PaddleClas's Engine
  reads the key it is close to, never this one.

The free-form sections (`FREE_FORM`) are their classes' to check. So are, for the warning and for the schema's
names an `-o` key is compared with, the keys of a class's arguments: a section of the schema's marked
`arguments` (a dataset, a sampler, an optimizer, a schedule) and a mapping in a list (a loss, metric, operator or
optimizer entry: `- Momentum: {...}`).
"""

import ast
import copy

from ..adapter.schema import key_for, rows_under, sections
from ..core.errors import ConfigError, closest, did_you_mean

FREE_FORM = (["Arch"], ["Loss"], ["Metric"])  # backbone, loss and metric arguments: any name their class takes
EXAMPLE = "e.g. -o Global.epochs=3"


def node_at(config, path, key, config_path):
    """The value at `path` (key parts) of the YAML `config`, or None where it has no such key. A step into a
    list that is not an index in range is a `ConfigError` (PaddleClas's parser would end in a traceback)."""
    node = config
    for depth, part in enumerate(path):
        if isinstance(node, list):
            node = node[_index(node, path, depth, key, config_path)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _index(node, path, depth, key, config_path):
    """`path[depth]` as an index of the list `node` (at `path[:depth]`), or a `ConfigError`."""
    part = path[depth]
    if not (part.isdecimal() and int(part) < len(node)):
        raise ConfigError(
            f"-o {key}: {'.'.join(path[:depth])} is a list of {len(node)} in {config_path}, so the key "
            f"after it is an index from 0 to {len(node) - 1}, not {part!r}"
        )
    return int(part)


def key_parts(override):
    """(the key parts, the value) of one `-o key=value`, the key a well-formed path; else a `ConfigError` naming
    the override and the fix. Examples: `Global.epochs=3` -> (["Global", "epochs"], "3"); `=3`,
    `Global..epochs=3`, `.Global.epochs=3`, `" Global.epochs=3"`, `Global.epochs=3=4` -> ConfigError."""
    if override.count("=") != 1:
        raise ConfigError(f"-o {override}: give one key=value, {EXAMPLE} (values cannot hold '=')")
    key, value = override.split("=")
    parts = key.split(".")
    if not key.strip():
        raise ConfigError(f"-o {override}: no key before '=': give key=value, {EXAMPLE}")
    if "" in parts:
        raise ConfigError(
            f"-o {override}: the key {key!r} has an empty part (a dot at its start or end, or two in a row): join "
            f"the key names with single dots, {EXAMPLE}"
        )
    if any(part != part.strip() for part in parts):
        fixed = ".".join(part.strip() for part in parts)
        raise ConfigError(f"-o {override!r}: the key {key!r} has spaces in it: write -o {fixed}={value.strip()}")
    return parts, value


def check_overrides(yaml_config, config_path, overrides):
    """Refuse (`ConfigError`, one line each) an override that is not one key=value of a well-formed key path
    (`key_parts`), that steps into a list with something other than an index in range or below a value that is
    not a section, or that adds, outside the free-form sections `FREE_FORM`, a key the schema does not declare
    but close to a key beside it (in `yaml_config`, the YAML at `config_path` as read, or in the schema). Each
    override is checked against the config the ones before it leave (`-o RDrop={}` then `-o RDrop.alpha=3`).
    Returns the notes of the other new keys (one line each), which no row of the schema reads."""
    shape = copy.deepcopy(yaml_config)
    notes = []
    for override in overrides:
        parts, value = key_parts(override)
        notes += _checked_path(shape, parts, config_path)
        _apply(shape, parts, value)
    return notes


def _checked_path(config, parts, config_path):
    """Walk `parts` down `config`: `ConfigError` for a bad step or a typo; the note of a new key, if any."""
    key = ".".join(parts)
    node = config
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth])
        if isinstance(node, list):
            node = node[_index(node, parts, depth, key, config_path)]
        elif isinstance(node, dict):
            if part not in node:
                return _new_key(config, node, parts[: depth + 1], key, config_path)
            node = node[part]
        else:
            raise ConfigError(
                f"-o {key}: {here} is the value {node!r}, not a section, so it has no key "
                f"{part}: set -o {here}=<value>, or -o {here}={{'{part}': <value>}} to make it a section"
            )
    return []


def _new_key(config, node, path, key, config_path):
    """The note of the new key at `path` beside the keys of `node`, or `ConfigError` when it is a typo."""
    if path[:1] in FREE_FORM or key_for(path) is not None:
        return []
    added = ".".join(path)
    hint = did_you_mean(path[-1], [str(name) for name in node] + known_names(path[:-1], config))
    if hint:
        raise ConfigError(f"-o {key}: {config_path} has no {added}{hint}")
    if arguments(path[:-1], config):
        return []  # an argument of the class the section names (`RandCropImage.scale`): the class reads it
    return [
        f"-o {key}: {config_path} has no {added}, so it is added as a new key; the plugin knows no reader of it, "
        f"so only a component that takes it by that name reads it"
    ]


def _apply(config, parts, value):
    """Set `parts` of `config` to `value` read as a Python literal (as PaddleClas's parser reads it; a string
    where it is none), making the sections it names, as PaddleClas's `override` does."""
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    node = config
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value


def known_names(parents, config):
    """The key names the schema declares directly under the section at the key parts `parents` of `config` (the
    top-level sections for none); none for a class's arguments (`arguments`), whose keys the class declares. The
    patterns' `*` and `**` are not names."""
    if not parents:
        return sections()
    if arguments(parents, config):
        return []
    return sorted({key.parts[-1] for key in rows_under(".".join(parents)) if key.parts[-1] not in ("*", "**")})


def arguments(path, config):
    """Whether the section at the key parts `path` of `config` holds the arguments of a class: its schema row is
    marked `arguments`, or it is the value of a mapping in a list (`Optimizer.0.Momentum`)."""
    key = key_for(path)
    if key is not None and key.arguments:
        return True
    return len(path) >= 2 and isinstance(_at(config, path[:-2]), list)


def _at(config, path):
    """The node at the key parts `path` of `config`, or None."""
    node = config
    for part in path:
        if isinstance(node, list) and part.isdecimal() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def unread_keys(yaml_config, config_path):
    """One warning line for each key of the YAML `yaml_config` (read from `config_path`) that no row of the schema
    declares but that is close to a key the schema declares beside it: `Global.Epochs` (did you mean `epochs`?).
    The free-form sections and the keys of a mapping in a list (a class name) are not checked."""
    warnings = []
    for path, mapping in _mappings(yaml_config, []):
        known = known_names(path, yaml_config)
        for name in mapping if known else ():
            if key_for([*path, str(name)]) is not None:
                continue
            close = closest(name, [other for other in known if other != name])
            if close is not None:
                dotted = ".".join([*path, str(name)])
                warnings.append(
                    f"{config_path}: {dotted} is a key neither engine reads (did you mean `{close}`?): "
                    f"the engines read {'.'.join([*path, str(close)])}, so rename the key if it was meant as that one"
                )
    return warnings


def _mappings(node, path):
    """(key parts, mapping) of the mappings under `node` whose keys are config keys: not in `FREE_FORM`, not an
    entry of a list."""
    if isinstance(node, dict):
        if path[:1] in FREE_FORM:
            return
        yield path, node
        for name, value in node.items():
            yield from _mappings(value, [*path, str(name)])
    elif isinstance(node, list):
        for index, entry in enumerate(node):
            children = entry.items() if isinstance(entry, dict) else ()
            for name, value in children:  # a class's entry (`- Name: {...}`): its arguments are keys again
                yield from _mappings(value, [*path, str(index), str(name)])
