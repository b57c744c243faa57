"""The text files a user brings (list files, label maps, CSVs) are read by one reader on every path: a UTF-8
byte-order mark, Windows line endings and blank lines are read on both engines; another encoding is one
line naming the file, the line and the byte; generated files never end in anything but a result or a
`DataError`."""

import codecs
import logging
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.core.errors import DataError
from paddleclas_rdrop.tools.data.lists import parse_list_file, read_list_file
from paddleclas_rdrop.tools.data.text import read_text, shown

from engine_runs import ENGINES, TINY, engine_param, overrides, refusals, run_tool


def write(path, text, encoding="utf-8", bom=False):
    data = text.encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return str(path)


def refused_with_train_list(engine, workdir, path, output):
    """The `error:` line of a training run of the tools on `engine` with the train list `path`."""
    keys = overrides(workdir, output) + TINY + [f"DataLoader.Train.dataset.cls_label_path={path}"]
    (outcome,) = refusals("train", "rdrop_res2net.yaml", [keys], cwd=workdir, env=ENGINES[engine])
    return outcome


def test_a_byte_order_mark_and_windows_line_endings_are_read(tmp_path):
    assert read_text(write(tmp_path / "a.txt", "images/a.png 0\r\nimages/b.png 1\r\n", bom=True)) == (
        "images/a.png 0\r\nimages/b.png 1\r\n"
    )
    (tmp_path / "images").mkdir()
    paths, labels, numbers = parse_list_file(str(tmp_path), str(tmp_path / "a.txt"))
    assert paths == [f"{tmp_path}/images/a.png", f"{tmp_path}/images/b.png"] and list(labels) == [0, 1]


def test_gbk_is_one_line_naming_the_file_the_line_and_the_byte(tmp_path):
    path = write(tmp_path / "gbk.txt", "images/a.png 0\nimages/狗.png 1\n", encoding="gbk")
    with pytest.raises(DataError) as error:
        parse_list_file(str(tmp_path), path)
    message = str(error.value)
    assert message.startswith(f"list file {path}:2: byte 0x") and "is not UTF-8 (the file looks like GBK" in message
    assert f"iconv -f GBK -t UTF-8 {path}" in message and "\n" not in message


def test_utf16_is_named(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes("images/a.png 0\n".encode("utf-16"))
    with pytest.raises(DataError, match="is UTF-16 .* save it as UTF-8"):
        read_text(str(path), "list file")


def test_blank_lines_are_skipped_with_one_warning(tmp_path, caplog):
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        from PIL import Image

        Image.new("RGB", (4, 4)).save(tmp_path / "images" / name)
    path = write(tmp_path / "blank.txt", "\nimages/a.png 0\n   \n\nimages/b.png 1\n\n")
    with caplog.at_level(logging.WARNING, logger="ppcls"):
        paths, labels, numbers = read_list_file(str(tmp_path), path)
    assert list(numbers) == [2, 5] and list(labels) == [0, 1]
    assert [r.getMessage() for r in caplog.records] == [f"{path}: skipped 4 blank line(s) (1, 3, 4, 6)"]


def test_a_missing_relative_path_names_the_folder_it_is_relative_to(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as missing:
        read_text("lists/train.txt", "list file", "cls_label_path")
    assert str(missing.value) == (
        f"list file lists/train.txt not found (cls_label_path; relative to the current folder {tmp_path})"
    )
    with pytest.raises(DataError) as missing:
        read_text(str(tmp_path / "train.txt"), "list file")
    assert str(missing.value) == f"list file {tmp_path}/train.txt not found"


def test_the_recipes_missing_imagenet_list_suggests_the_overrides_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as missing:
        parse_list_file("./dataset/ILSVRC2012/", "./dataset/ILSVRC2012/train_list.txt")
    assert str(missing.value).endswith(
        "that is the recipe's ImageNet list; for your own images add $(cat <your lists>/overrides.txt), which "
        "tools/csv_to_lists.py writes, to the command"
    )


def test_a_path_with_an_invisible_character_is_shown_as_a_literal():
    assert shown("\ufeffimages/a.png") == "'\\ufeffimages/a.png'" and shown("images/a.png") == "images/a.png"
    assert shown("a.png ") == "'a.png '"


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_list_with_a_bom_crlf_and_blank_lines_trains_on_both_engines(engine, workdir):
    lists = workdir / "digits"
    name = f"bom_train_{engine}.txt"
    text = (lists / "train_list.txt").read_text().replace("\n", "\r\n\r\n")
    write(lists / name, text, bom=True)
    result = run_tool(
        "train.py",
        "rdrop_res2net.yaml",
        overrides(workdir, f"bom_{engine}") + TINY + [f"DataLoader.Train.dataset.cls_label_path={lists / name}"],
        cwd=workdir,
        env=ENGINES[engine],
    )
    log = result.stdout + result.stderr
    assert "blank line(s)" in log and "Traceback" not in log
    assert (workdir / f"bom_{engine}" / "latest.pdparams").exists()
    for weights in (workdir / f"bom_{engine}").glob("*.pd*"):
        weights.unlink()


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_gbk_list_is_one_error_on_both_engines(engine, workdir):
    lists = workdir / "digits"
    path = write(lists / f"gbk_{engine}.txt", "images/狗.png 0\n", encoding="gbk")
    outcome = refused_with_train_list(engine, workdir, path, f"gbk_{engine}")
    assert outcome.startswith(f"error: list file {path}:1: byte 0x") and "save it as UTF-8" in outcome
    assert not (workdir / f"gbk_{engine}").exists()


def test_a_class_map_with_a_bom_names_the_classes(tmp_path):
    from paddleclas_rdrop.tools.data.class_map import config_class_map

    path = write(tmp_path / "labels.txt", "0 cat\r\n1 dog\r\n", bom=True)
    assert config_class_map({"Infer": {"PostProcess": {"class_id_map_file": path}}}) == {0: "cat", 1: "dog"}
    bad = write(tmp_path / "bad.txt", "cat 0\n")
    with pytest.raises(DataError, match=f"{bad}:1: expected `<id> <name>`"):
        config_class_map({"Infer": {"PostProcess": {"class_id_map_file": bad}}})


LINE = st.tuples(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.one_of(st.integers(-3, 12).map(str), st.text(max_size=3)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.one_of(LINE, st.just(None)), max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"]),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_a_generated_list_file_is_read_or_refused_in_one_line(tmp_path, lines, encoding, ending):
    text = ending.join("" if line is None else f"{line[0]} {line[1]}" for line in lines)
    path = tmp_path / "generated.txt"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        return  # not a file this encoding can hold
    try:
        paths, labels, numbers = parse_list_file(str(tmp_path), str(path))
    except DataError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert len(paths) == len(labels) == len(numbers) > 0
    assert all(isinstance(label, (int, np.integer)) for label in labels)
    assert all(p.startswith(os.path.join(str(tmp_path), "")) or p.startswith("/") for p in paths)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_negative_label_is_named_with_its_line_on_both_engines(engine, workdir):
    lists = workdir / "digits"
    lines = (lists / "train_list.txt").read_text().splitlines()
    lines[2] = lines[2].split()[0] + " -1"
    path = write(lists / f"negative_{engine}.txt", "\n".join(lines) + "\n")
    outcome = refused_with_train_list(engine, workdir, path, f"negative_{engine}")
    assert outcome == (
        f"error: {path}:3: label -1 is negative, but labels are class ids from 0 to Arch.class_num-1 (9): "
        f"number the classes from 0"
    )
