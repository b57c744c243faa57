"""An `-o` key that the YAML does not have but that is close to one it has is a typo: PaddleClas would
add it as a new key (its "A new field ... detected!" line) and train on without it. The tools refuse
it in one line with the key it is close to (`did_you_mean`).

A new key that PaddleClas reads where its recipes often leave it out (`optional` in the schema), or that is
close to no key of its section, is taken as it is: PaddleClas's configs leave many keys to their defaults.
"""

from ..adapter.schema import optional
from ..core.errors import ConfigError, did_you_mean

FREE_FORM = (["Arch"], ["Loss"], ["Metric"])  # backbone, loss and metric arguments: any name their class takes


def node_at(config, path, key, config_path):
    """The value at `path` (key parts) of the YAML `config`, or None where it has no such key. A step into a
    list that is not an index in range is a `ConfigError` (PaddleClas's parser would end in a traceback)."""
    node = config
    for depth, part in enumerate(path):
        if isinstance(node, list):
            if not (part.isdecimal() and int(part) < len(node)):
                raise ConfigError(
                    f"-o {key}: {'.'.join(path[:depth])} is a list of {len(node)} in {config_path}, so the key "
                    f"after it is an index from 0 to {len(node) - 1}, not {part!r}"
                )
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def check_overrides(yaml_config, config_path, overrides):
    """Refuse (`ConfigError`, one line each) what PaddleClas's `-o` parser would fail on with a traceback (no
    `=` or more than one, a step into a list that is not an index in range) and, outside the free-form
    sections `FREE_FORM`, a last key that `yaml_config` (the YAML at `config_path`, as read) does not have but
    that is close to a key beside it (a typo PaddleClas would add as a new key and ignore)."""
    for override in overrides:
        if override.count("=") != 1:
            raise ConfigError(f"-o {override}: give one key=value, e.g. -o Global.epochs=3 (values cannot hold '=')")
        key = override.split("=", 1)[0]
        *parents, leaf = key.split(".")
        parent = node_at(yaml_config, parents, key, config_path)
        if isinstance(parent, list):
            node_at(yaml_config, parents + [leaf], key, config_path)  # an index in range
            continue
        if not isinstance(parent, dict) or leaf in parent or optional(parents, leaf) or parents[:1] in FREE_FORM:
            continue
        hint = did_you_mean(leaf, [str(name) for name in parent])
        if hint:
            raise ConfigError(f"-o {key}: {config_path} has no {key}{hint}")
