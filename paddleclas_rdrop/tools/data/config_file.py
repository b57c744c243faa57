"""One reader for the YAML config files a user brings (PaddleClas's `-c cfg.yaml`, a PaddleX copy of one, the
project's recipes): `read_config(path)` returns the dict PaddleClas's `parse_config` gets, with PyYAML's
`SafeLoader` (PaddleClas's own), and turns what would be a traceback or a silent surprise into one
`ConfigError` line naming the file and, where there is one, the line:

- bytes that are not UTF-8 are named: UTF-16 (by its byte-order mark, or by the NUL bytes of one without),
  and GBK or Latin-1 by `text.decode_text` (line, byte, "save it as UTF-8"); a UTF-8 byte-order mark is
  dropped;
- a YAML syntax error is `<file>:<line>:<column>: <problem>: <fix>` (a tab: "indent with spaces, YAML does
  not allow tabs");
- a key given twice in one mapping, at any depth, is refused with its key path and both lines. PyYAML keeps
  the last one silently, so `epochs: 1` added under a `Global:` that already has `epochs: 200` would train
  200 epochs. The refusal holds for equal values too: none of PaddleClas's 501 shipped configs
  (ppcls/configs) gives a key twice, so no valid recipe is refused;
- an empty file, a top level that is not a mapping, and a top-level `_BASE_` (PaddleDetection's and
  PaddleSeg's inheritance, which PaddleClas does not read) are named.
"""

import codecs

import yaml

from ...core.errors import ConfigError, DataError
from .text import decode_text, read_bytes, shown

SECTIONS = "Global:, Arch:, Loss:, Optimizer:, DataLoader:"
MERGE_TAG = "tag:yaml.org,2002:merge"

# (words in PyYAML's problem, the fix the message gives), the first match wins
FIXES = (
    ("mapping values are not allowed here", "a value holding ': ' needs quotes, and each key goes on its own line"),
    ("could not find expected ':'", "write `key: value` (a space after the colon); a value holding '#' needs quotes"),
    ("expected <block end>", "indent the keys of one section alike, with spaces"),
    ("expected a single document", "a config is one YAML document: remove the second '---'"),
    ("found undefined alias", "define the anchor (&name) before its alias (*name)"),
    ("found duplicate anchor", "give each anchor (&name) its own name"),
    ("found unexpected end of stream", "close the quote or bracket that opens there"),
    ("found unhashable key", "a key is a single value, not a list or a mapping"),
    ("could not determine a constructor", "remove the tag: PaddleClas reads configs with yaml.SafeLoader"),
)


def read_config(path):
    """The config file at `path` (a str or os.PathLike) as a dict: what `yaml.safe_load` and PaddleClas's
    `parse_config` (`yaml.load(..., Loader=yaml.SafeLoader)`) give for it, without the AttrDict. The file is
    read once, as bytes.

    Raises `ConfigError`, one line naming the file, for a file that is missing, a folder, not UTF-8, holds a
    character YAML does not allow (a NUL byte: UTF-16 without a byte-order mark), has a YAML syntax error, a
    key given twice in one mapping (even with equal values), is empty, has a top level that is not a mapping,
    or has a top-level `_BASE_` key.

    Examples (`cfg.yaml` as written, then what `read_config("cfg.yaml")` gives):

    - `Global:\\n  epochs: 2\\n` -> `{"Global": {"epochs": 2}}`
    - `Global:\\n\\tepochs: 2\\n` -> ConfigError
      `cfg.yaml:2:1: found character '\\t' that cannot start any token: indent with spaces, YAML does not allow
      tabs`
    - `Global:\\n  epochs: 200\\n  epochs: 1\\n` -> ConfigError
      `cfg.yaml:3: Global.epochs is given twice, at lines 2 and 3: keep one (PyYAML would take the last)`
    - `_BASE_: base.yaml\\n` -> ConfigError `cfg.yaml:1: _BASE_ is not read: PaddleClas configs do not
      inherit ...; copy the sections of base.yaml into this file and remove _BASE_`
    """
    name = shown(path)
    text = _text_of(path, name)
    root, config = _parsed(text, name)
    _check_top_level(config, root, name)
    return config


def _text_of(path, name):
    """The text of the config file at `path` (`name`: as shown), UTF-8 checked; `ConfigError`."""
    try:
        data = read_bytes(path, "config file")
        if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            offset = data.index(b"\x00")
            line = data.count(b"\n", 0, offset) + 1
            raise ConfigError(
                f"{name}:{line}: the byte at offset {offset} is NUL, so the file is likely UTF-16 "
                f'(Notepad\'s "Unicode"), which is not UTF-8: save it as UTF-8 (Notepad: Save as, Encoding UTF-8)'
            )
        text = decode_text(data, path, "config file")
    except DataError as error:
        raise ConfigError(str(error)) from None
    _check_characters(text, name)
    return text


def _parsed(text, name):
    """(the root node, the document) of the YAML `text`, a key given twice refused; `ConfigError`."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ConfigError(f"config file {name} is empty: a PaddleClas config is a mapping of sections ({SECTIONS})")
        loader.paths = _key_paths(root)
        return root, loader.construct_document(root)
    except _DuplicateKey as duplicate:
        raise ConfigError(f"{name}:{duplicate.args[0]}") from None
    except yaml.MarkedYAMLError as error:
        raise ConfigError(_syntax_error(name, text, error)) from None
    except yaml.YAMLError as error:  # PyYAML's errors without a place in the file
        raise ConfigError(f"{name}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    except RecursionError:
        raise ConfigError(f"{name}: the YAML is nested too deep for PyYAML to read") from None
    finally:
        loader.dispose()


def _check_top_level(config, root, name):
    """A mapping of sections without `_BASE_`; `ConfigError`."""
    if not isinstance(config, dict):
        what = (
            "a list"
            if isinstance(config, list)
            else "nothing (null)"
            if config is None
            else f"the value {_shown_key(repr(config))}"
        )
        raise ConfigError(
            f"{name}:{root.start_mark.line + 1}: the top level is {what}, but a PaddleClas config is a mapping of "
            f"sections ({SECTIONS})"
        )
    if "_BASE_" in config:
        keys = (key.start_mark.line + 1 for key, _ in root.value if getattr(key, "value", None) == "_BASE_")
        line = next(keys, root.start_mark.line + 1)
        base = config["_BASE_"]
        raise ConfigError(
            f"{name}:{line}: _BASE_ is not read: PaddleClas configs do not inherit (PaddleDetection's and "
            f"PaddleSeg's do); copy the sections of "
            f"{', '.join(map(_shown_key, base)) if isinstance(base, list) else _shown_key(base)} "
            f"into this file and remove _BASE_"
        )


class _DuplicateKey(Exception):
    """A key given twice: its words after `<file>:`."""


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader (PaddleClas's) whose `construct_mapping` refuses a key given twice; `paths`: the
    key path of each mapping node (by id), for the message."""

    def __init__(self, text):
        super().__init__(text)
        self.paths = {}

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._check_keys(node, deep)
        return super().construct_mapping(node, deep=deep)

    def _check_keys(self, node, deep):
        """Raise `_DuplicateKey` for the first key of `node` given again; merge keys (`<<: *base`, which
        later keys may override) are not keys of their own. A key that cannot be hashed is left to PyYAML."""
        first = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:
                continue
            if earlier is not key_node:
                where = self.paths.get(id(node), "")
                lines = earlier.start_mark.line + 1, key_node.start_mark.line + 1
                key_path = f"{where}.{_shown_key(key)}" if where else _shown_key(key)
                raise _DuplicateKey(
                    f"{lines[1]}: {key_path} is given twice, at lines {lines[0]} and {lines[1]}: keep one "
                    f"(PyYAML would take the last)"
                )


def _key_paths(root):
    """{id(mapping node): its key path as `-o` writes it (`DataLoader.Train.dataset.transform_ops.1`)} for the
    mappings under `root`; a node reached twice (an alias) keeps its first path."""
    paths, seen, stack = {}, set(), [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            paths[id(node)] = path
            children = [(value, _shown_key(getattr(key, "value", "?"))) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = [(value, index) for index, value in enumerate(node.value)]
        else:
            continue
        stack.extend((child, f"{path}.{part}" if path else str(part)) for child, part in reversed(children))
    return paths


def _shown_key(value, limit=60):
    """A key or value as a message shows it: as it is when short and every character is visible, else as a
    Python literal cut at `limit` characters."""
    text = str(value)
    if not (text.isprintable() and text == text.strip() and text):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_characters(text, name):
    """A character YAML does not allow (PyYAML's reader would name it by offset) is named with its line and
    column."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if not found:
        return
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    raise ConfigError(
        f"{name}:{line}:{column}: character U+{ord(found.group()[0]):04X} is not allowed in YAML: delete it"
    )


def _syntax_error(name, text, error):
    """`<file>:<line>:<column>: <problem> (<context>): <fix>` for PyYAML's `error`."""
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or type(error).__name__
    context = ""
    if error.problem and error.context and error.context_mark and error.context_mark.line != mark.line:
        context = f" ({error.context} at line {error.context_mark.line + 1})"
    lines = text.split("\n")
    source = lines[mark.line] if mark and mark.line < len(lines) else ""
    if "'\\t'" in problem:
        fix = (
            "indent with spaces, YAML does not allow tabs"
            if mark and not source[: mark.column].strip()
            else "replace the tab with a space, YAML does not allow tabs outside quotes"
        )
    else:
        said = f"{error.problem} {error.context}"
        fix = next((fix for words, fix in FIXES if words in said), "fix the YAML there")
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    return " ".join(f"{where}: {problem}{context}: {fix}".split("\n"))
