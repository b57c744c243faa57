"""Which config keys the standalone engine honours (the schema's rows for a section, `adapter.schema.taken`, and
the constructor's arguments of the losses, metrics and batch operators it builds): any other key is an error
that names it."""

import inspect

from ...adapter.schema import paddleclas_only, rows_under, rule_for, sections, taken
from ...core.errors import ConfigError, did_you_mean


def unknown_key(key, known, what):
    """The message for `key` (a dotted path), not among `known` (`what`: the kind of key): that PaddleClas's
    Engine reads it, or the closest known key, or what to do."""
    leaf = key.rsplit(".", 1)[-1]
    if key.startswith("Global.") and leaf in paddleclas_only("Global"):
        return (
            f"{key} is read by PaddleClas's Engine, which the standalone engine does not implement: remove it, "
            f"or run with a PaddleClas source tree (PADDLECLAS_ROOT)"
        )
    hint = did_you_mean(leaf, known)
    if hint:
        return f"{key} is not {what} the standalone engine knows{hint}"
    return (
        f"{key} is not {what} the standalone engine knows (it knows {sorted(known)}): remove it, or, if "
        f"PaddleClas's own engine reads it, run with a PaddleClas source tree (PADDLECLAS_ROOT)"
    )


def arguments(component, supplied=()):
    """`({parameter: default}, [required parameter])` of the constructor of `component` (a class), less the
    `supplied` parameters the engine passes itself: the keys a config entry of the component may hold."""
    defaults, required = {}, []
    for name, parameter in inspect.signature(component).parameters.items():
        if name in supplied or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            required.append(name)
        else:
            defaults[name] = parameter.default
    return defaults, required


def take(section, path, component=None):
    """`section` (the mapping at the dotted `path`) with its defaults filled in. Its keys: the schema's for the
    section and its `name` (`schema.taken`), and a component's (`arguments`: `(defaults, required)`), if given.
    An unknown or missing key is a `ConfigError` (a `Global` key of PaddleClas's Engine at a false value, such
    as `to_static: False`, is left out: it asks for nothing)."""
    section = dict(section or {})
    if path == "Global":  # a PaddleClas Engine key turned off (to_static: False, ...) asks for nothing
        engine_only = paddleclas_only("Global")
        section = {key: value for key, value in section.items() if key not in engine_only or value}
    name = section.get("name") if isinstance(section.get("name"), str) else None
    defaults, required = taken(path, name)
    if component is not None:
        defaults, required = {**defaults, **component[0]}, [*required, *component[1]]
    unknown = sorted(set(section) - set(defaults) - set(required))
    if unknown:
        readers = [key.of for key in rows_under(path) if key.parts[-1] == unknown[0] and key.of]
        if readers and name:  # the key of another optimizer or schedule
            raise ConfigError(f"{path}.{unknown[0]} is read by {' and '.join(readers[0])}, not {name}: remove it")
        raise ConfigError(unknown_key(f"{path}.{unknown[0]}", {*defaults, *required}, "a key"))
    missing = [key for key in required if section.get(key) is None]
    if missing:
        rule = rule_for([*path.split("."), missing[0]])
        example = f": set -o {path}.{missing[0]}={rule.example}" if rule is not None and rule.example else ""
        raise ConfigError(f"{path}.{missing[0]} is required{example}")
    return {**defaults, **section}


def single_entry(entry, path):
    """`(name, params)` of a one-key list entry such as `- CELoss: {weight: 1.0}`."""
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ConfigError(f"{path} must be a one-key mapping such as `- Name: {{...}}`, got {entry!r}")
    ((name, params),) = entry.items()
    return name, dict(params or {})


def check_top_level(config):
    """Every top-level section of `config` is one the schema declares; raises `ConfigError` naming another."""
    known = sections()
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ConfigError(unknown_key(unknown[0], known, "a section"))
