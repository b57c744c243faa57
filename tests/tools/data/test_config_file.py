"""`data.config_file.read_config`, the one reader of YAML config files: a valid file gives what `yaml.safe_load`
(PaddleClas's `parse_config`) gives, for generated files and for every config PaddleClas ships; a tab, a key
given twice at any depth, bytes that are not UTF-8, an empty file, a top level that is not a mapping and a
top-level `_BASE_` are each one `ConfigError` line naming the file (and the line where there is one), never
another exception."""

import codecs
import glob
import os

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.data.config_file import read_config

PADDLECLAS_CONFIGS = "/work/shared/PaddleClas/ppcls/configs"
FIXTURE = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WIDE = 10**6  # no line folding in the dumps: each key is on a line of its own

# keys YAML reads as the words they are (not `yes`, `null`: True, None)
KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True).filter(lambda key: yaml.safe_load(key) == key)
WORDS = st.text(alphabet=st.sampled_from("abcXYZ019 _-.:#/'\"!&*é中"), max_size=10)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, width=32),
    WORDS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
CONFIGS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=5)


def nested(scalars):
    """Nested mappings only (every value one of `scalars` or a non-empty mapping): `block` writes them line by
    line."""
    return st.recursive(
        st.dictionaries(KEYS, scalars, min_size=1, max_size=4),
        lambda inner: st.dictionaries(KEYS, st.one_of(scalars, inner), min_size=1, max_size=4),
        max_leaves=12,
    )


NESTED = nested(SCALARS)
ASCII_NESTED = nested(st.one_of(st.integers(), st.text(alphabet=st.sampled_from("abc019 _-."), max_size=6)))


def write(tmp_path, data, name="cfg.yaml"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refusal(path):
    """The message of the `ConfigError` `read_config(path)` raises, checked to be one line naming the file."""
    with pytest.raises(ConfigError) as raised:
        read_config(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message, message
    return message


def dumped(config, flow, indent):
    return yaml.safe_dump(config, default_flow_style=flow, indent=indent, width=WIDE, allow_unicode=True)


def scalar(value):
    """`value` as YAML writes it inline."""
    return yaml.safe_dump([value], default_flow_style=True, width=WIDE, allow_unicode=True).strip()[1:-1]


def block(mapping, indent=0):
    """[(key path, key, line text)] of `mapping` written as nested block mappings, one key a line."""
    rows = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            rows.append(((), key, f"{' ' * indent}{key}:"))
            rows += [((key, *path), child, text) for path, child, text in block(value, indent + 2)]
        else:
            rows.append(((), key, f"{' ' * indent}{key}: {scalar(value)}"))
    return rows


# valid files


@settings(max_examples=150, **FIXTURE)
@given(
    config=CONFIGS,
    flow=st.sampled_from([False, None]),
    indent=st.integers(2, 4),
    bom=st.booleans(),
    ending=st.sampled_from(["\n", "\r\n"]),
)
def test_a_valid_file_gives_what_safe_load_gives(tmp_path, config, flow, indent, bom, ending):
    assume("_BASE_" not in config)
    text = dumped(config, flow, indent).replace("\n", ending)
    path = write(tmp_path, (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    assert read_config(path) == yaml.safe_load(text) == config
    assert read_config(str(path)) == config


def test_merge_keys_and_aliases_are_not_duplicates(tmp_path):
    text = "base: &b\n  x: 1\n  y: 2\nderived:\n  <<: *b\n  x: 3\nagain: *b\n"
    assert read_config(write(tmp_path, text.encode())) == yaml.safe_load(text)


@pytest.mark.skipif(not os.path.isdir(PADDLECLAS_CONFIGS), reason=f"{PADDLECLAS_CONFIGS} is not on this machine")
def test_every_paddleclas_config_gives_what_parse_config_gets():
    """PaddleClas's `parse_config` reads with `yaml.load(handle, Loader=yaml.SafeLoader)`: the same dict for each
    of its shipped configs, and none of them is refused (none gives a key twice)."""
    paths = sorted(glob.glob(f"{PADDLECLAS_CONFIGS}/**/*.y*ml", recursive=True))
    assert len(paths) >= 498
    differ = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            expected = yaml.load(handle, Loader=yaml.SafeLoader)
        if read_config(path) != expected:
            differ.append(path)
    assert not differ


# tabs


@settings(max_examples=100, **FIXTURE)
@given(config=NESTED, data=st.data())
def test_a_tab_in_the_indentation_is_named_with_its_line(tmp_path, config, data):
    lines = [text for _, _, text in block(config)]
    indented = [number for number, text in enumerate(lines) if text.startswith(" ")]
    assume(indented)
    number = data.draw(st.sampled_from(indented))
    lines[number] = "\t" + lines[number][data.draw(st.integers(1, 2)) :]
    path = write(tmp_path, "\n".join(lines).encode())
    message = refusal(path)
    assert message.startswith(f"{path}:{number + 1}:1: ") and "indent with spaces, YAML does not allow tabs" in message


@settings(max_examples=150, **FIXTURE)
@given(config=CONFIGS, flow=st.sampled_from([False, None]), data=st.data())
def test_a_tab_anywhere_gives_the_safe_load_result_or_one_line(tmp_path, config, flow, data):
    text = dumped(config, flow, 2)
    at = data.draw(st.integers(0, len(text)))
    text = text[:at] + "\t" + text[at:]
    path = write(tmp_path, text.encode())
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        message = refusal(path)
        assert message.startswith(f"{path}:") and "tab" in message
        return
    if isinstance(expected, dict) and "_BASE_" not in expected:
        assert read_config(path) == expected
    else:
        refusal(path)


# keys given twice


@settings(max_examples=150, **FIXTURE)
@given(config=NESTED, data=st.data())
def test_a_key_given_twice_at_any_depth_names_its_path_and_both_lines(tmp_path, config, data):
    rows = block(config)
    index = data.draw(st.integers(0, len(rows) - 1), label="the key given twice")
    parents, key, _ = rows[index]
    # a second line for `key` in its mapping: before one of the mapping's keys, or after the mapping's last line
    siblings = [at for at, row in enumerate(rows) if row[0] == parents]
    end = siblings[0]
    while end < len(rows) and rows[end][0][: len(parents)] == parents:
        end += 1
    at = data.draw(st.sampled_from(siblings + [end]), label="inserted at")
    lines = [text for _, _, text in rows]
    lines.insert(at, f"{' ' * 2 * len(parents)}{key}: {scalar(data.draw(SCALARS, label='second value'))}")
    low, high = sorted((index + 1 + (at <= index), at + 1))
    path = write(tmp_path, ("\n".join(lines) + "\n").encode())
    message = refusal(path)
    key_path = ".".join((*parents, key))
    assert (
        message
        == f"{path}:{high}: {key_path} is given twice, at lines {low} and {high}: keep one (PyYAML would take the last)"
    )


def test_epochs_given_twice_under_global_is_refused_not_last_wins(tmp_path):
    text = "Global:\n  epochs: 200\n  device: cpu\n  epochs: 1\nArch:\n  name: ResNet18\n"
    assert yaml.safe_load(text)["Global"]["epochs"] == 1  # PyYAML's silent last-wins
    message = refusal(write(tmp_path, text.encode()))
    assert message.endswith(":4: Global.epochs is given twice, at lines 2 and 4: keep one (PyYAML would take the last)")


def test_a_key_given_twice_in_a_list_item_names_its_index(tmp_path):
    text = (
        "DataLoader:\n  Train:\n    transform_ops:\n      - DecodeImage:\n      - ResizeImage:\n"
        "          size: 1\n          size: 2\n"
    )
    message = refusal(write(tmp_path, text.encode()))
    assert ":7: DataLoader.Train.transform_ops.1.ResizeImage.size is given twice, at lines 6 and 7" in message


def test_equal_values_given_twice_are_refused_too(tmp_path):
    assert "a is given twice, at lines 1 and 3" in refusal(write(tmp_path, b"a: 1\nb: 2\na: 1\n"))


# encodings


LATIN = st.sampled_from("éüñçßà°±£")


@settings(max_examples=100, **FIXTURE)
@given(config=ASCII_NESTED, data=st.data())
def test_latin1_is_named_with_its_line_and_save_as_utf8(tmp_path, config, data):
    lines = [text for _, _, text in block(config)]
    number = data.draw(st.integers(0, len(lines) - 1))
    lines[number] += f" # caf{data.draw(LATIN)} au lait"
    path = write(tmp_path, "\n".join(lines).encode("latin-1"))
    message = refusal(path)
    assert f"{path}:{number + 1}: byte 0x" in message and "is not UTF-8" in message and "save it as UTF-8" in message


@settings(max_examples=100, **FIXTURE)
@given(config=CONFIGS, encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))
def test_utf16_with_or_without_its_byte_order_mark_is_named(tmp_path, config, encoding):
    path = write(tmp_path, dumped(config, False, 2).encode(encoding))
    message = refusal(path)
    assert "UTF-16" in message and "save it as UTF-8" in message


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    assert read_config(write(tmp_path, codecs.BOM_UTF8 + b"Global:\n  epochs: 2\n")) == {"Global": {"epochs": 2}}


# empty files, other top levels, _BASE_


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_an_empty_file_is_named(tmp_path, text):
    message = refusal(write(tmp_path, text.encode()))
    assert "empty" in message or "nothing (null)" in message


@settings(max_examples=100, **FIXTURE)
@given(top=st.one_of(st.lists(VALUES, min_size=1, max_size=4), SCALARS.filter(lambda value: value is not None)))
def test_a_top_level_that_is_not_a_mapping_is_named(tmp_path, top):
    path = write(tmp_path, dumped(top, False, 2).encode())
    message = refusal(path)
    assert message.startswith(f"{path}:1: the top level is ") and "a PaddleClas config is a mapping" in message


@settings(max_examples=50, **FIXTURE)
@given(config=CONFIGS, base=st.one_of(WORDS, st.lists(WORDS, min_size=1, max_size=3)), first=st.booleans())
def test_a_top_level_base_says_paddleclas_configs_do_not_inherit(tmp_path, config, base, first):
    config = {"_BASE_": base, **config} if first else {**config, "_BASE_": base}
    text = dumped(config, False, 2)
    path = write(tmp_path, text.encode())
    line = next(number for number, row in enumerate(text.splitlines(), 1) if row.startswith("_BASE_"))
    message = refusal(path)
    assert message.startswith(f"{path}:{line}: _BASE_ is not read: PaddleClas configs do not inherit")
    assert "copy the sections of" in message


def test_a_nested_base_key_is_an_ordinary_key(tmp_path):
    assert read_config(write(tmp_path, b"Arch:\n  _BASE_: x\n")) == {"Arch": {"_BASE_": "x"}}


# files that are not there, and anything at all


def test_a_missing_file_and_a_folder_are_named(tmp_path):
    assert "not found" in refusal(tmp_path / "missing.yaml")
    assert "is a folder" in refusal(tmp_path)


@settings(max_examples=300, **FIXTURE)
@given(
    text=st.text(alphabet=st.sampled_from("ab1:-[]{}#&*!|>'\",.? \t\n\x00\x07é"), max_size=40),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_any_file_gives_the_safe_load_dict_or_one_line(tmp_path, text, encoding):
    path = write(tmp_path, text.encode(encoding))
    try:
        config = read_config(path)
    except ConfigError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert repr(config) == repr(yaml.safe_load(text))
