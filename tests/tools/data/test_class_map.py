"""The class map (`Infer.PostProcess.class_id_map_file`) is read by the plugin's one text reader wherever the tools
read it: a byte-order mark is dropped, a malformed line is one error naming the file and the line."""

import pytest

from paddleclas_rdrop.core.errors import DataError

from engine_runs import ENGINES, TINY, engine_param, overrides, run_tool

CONFIG = "rdrop_res2net.yaml"
STANDALONE = ENGINES["standalone"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def trained(workdir):
    """The keys of a one-epoch TINY run on the digits (its `latest` as the pretrained model), exported, with a
    class map saved with a byte-order mark (`bom`) and one with a malformed line (`bad`)."""
    keys = overrides(workdir, "tiny") + TINY + ["Global.seed=0"]
    run_tool("train.py", CONFIG, keys, cwd=workdir, env=STANDALONE)
    keys += [f"Global.pretrained_model={workdir}/tiny/latest"]
    run_tool("export_model.py", CONFIG, keys, cwd=workdir, env=STANDALONE)
    names = "".join(f"{i} {name}\n" for i, name in enumerate(DIGITS))
    (workdir / "bom.txt").write_bytes(b"\xef\xbb\xbf" + names.replace("\n", "\r\n").encode())
    (workdir / "bad.txt").write_text(names.replace("\n", "\nthree 3\n", 1))
    return keys + [f"Infer.infer_imgs={workdir}/digits/images/00000.png"]


def test_a_byte_order_mark_is_dropped_and_a_malformed_line_named(tmp_path):
    from paddleclas_rdrop.tools.data.class_map import read_class_map

    path = tmp_path / "labels.txt"
    path.write_bytes(b"\xef\xbb\xbf0 cat\r\n\r\n1 big dog\r\n2\r\n")
    assert read_class_map(str(path)) == {0: "cat", 1: "big dog", 2: "2"}
    path.write_text("0 cat\ncat 1\n")
    with pytest.raises(DataError, match=f"{path}:2: expected `<id> <name>` .*got 'cat 1': fix that line"):
        read_class_map(str(path))


def class_map_run(tool, workdir, keys, class_map, env=STANDALONE):
    result = run_tool(
        tool, CONFIG, keys + [f"Infer.PostProcess.class_id_map_file={workdir / class_map}"], workdir, env, check=False
    )
    return result, result.stdout + result.stderr


def test_predict_names_the_classes_of_a_class_map_with_a_bom(trained, workdir):
    result, out = class_map_run("predict.py", workdir, trained, "bom.txt")
    assert result.returncode == 0 and "invalid literal" not in out, out[-3000:]
    line = next(line for line in result.stdout.splitlines() if "00000.png: " in line)
    assert any(f"{i} ({name}) " in line for i, name in enumerate(DIGITS)), line  # `<id> (<name>) <score> %`


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_infer_names_the_classes_of_a_class_map_with_a_bom(trained, workdir, engine):
    result, out = class_map_run("infer.py", workdir, trained, "bom.txt", ENGINES[engine])
    assert result.returncode == 0 and "invalid literal" not in out, out[-3000:]
    assert any(f"'label_names': ['{name}'" in out for name in DIGITS), out[-3000:]


MALFORMED_RUNS = [
    ("predict.py", "standalone"),
    ("export_model.py", "standalone"),
    ("infer.py", "standalone"),
    ("infer.py", "paddleclas"),
    ("export_model.py", "paddleclas"),
]


@pytest.mark.parametrize(
    "tool, engine", [pytest.param(tool, engine, marks=engine_param(engine).marks) for tool, engine in MALFORMED_RUNS]
)
def test_a_malformed_class_map_line_is_one_error_naming_it(trained, workdir, tool, engine):
    export = workdir / "tiny" / "inference"
    before = {path.name: path.stat().st_mtime_ns for path in export.iterdir()}
    result, out = class_map_run(tool, workdir, trained, "bad.txt", ENGINES[engine])
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in out and len(errors) == 1, out[-3000:]
    assert errors[0].startswith(f"error: {workdir / 'bad.txt'}:2: expected `<id> <name>`"), errors
    assert {path.name: path.stat().st_mtime_ns for path in export.iterdir()} == before
