"""The check of the config values the tools and both engines read, each with its type and range, checked
before anything is built or written. A wrong value (`-o Global.epochs=two`, `Global.epochs=2.5`,
`Global.eval_interval=0`, `DataLoader.Train.sampler.batch_size=16.5`) is one `ConfigError` naming the
key, the value and a value that works, instead of a traceback from PaddleClas's or Paddle's code hours
in. A float that is not finite (`RDrop.alpha: .nan`) is refused at any key. Values meaning "off" are accepted
where PaddleClas accepts them (`Global.seed: null`, `Optimizer.clip_norm: null`, `Global.keep_checkpoint_max:
null`).

The keys and their rules are the schema's (`schema.KEYS`); tests/tools/test_values.py checks it against the
`Global` keys of PaddleClas's Engine source.
"""

from ..adapter.schema import check, key_for, rule_for
from ..core.errors import ConfigError, finite_number


def _nodes(node, path=()):
    """(path, value) of every node under `node` (mappings and lists walked; list indices as strings)."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, path + (str(index),))


def check_values(config):
    """Check every value of `config` that the schema has a rule for, and that no value at all is a float that is
    not finite (YAML's `.nan`, `.inf`; `-o key=1e999`, which PaddleClas's parser reads as inf): no key the engines
    read takes one, and a range check lets NaN through. Raises `ConfigError` for the first wrong one:
    `<key> must be <what>, got <value>: set -o <key>=<example>`."""
    for path, value in _nodes(config):
        if isinstance(value, float) and not finite_number(value):
            key, rule = ".".join(path), rule_for(path)
            example = rule.example if rule is not None and rule.example else "<a finite number>"
            raise ConfigError(f"{key} must be a finite number, got {value!r}: set -o {key}={example}")
    for path, value in _nodes(config):
        if path:
            check(path, value)


def leave_out_off_values(config):
    """Remove from `config` every key at one of its rule's off values whose schema row says PaddleClas's Engine
    reads the key's presence (`off_is_absent`: `Optimizer.clip_norm: null`, `Global.seed: False`), so that
    both engines read it as left out. Returns the dotted keys removed."""
    removed = []
    for path, value in list(_nodes(config)):
        key = key_for(path) if path else None
        if key is not None and key.off_is_absent and key.rule is not None and key.rule.is_off(value):
            parent = config
            for part in path[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            del parent[path[-1]]
            removed.append(".".join(path))
    return removed
