"""compare.py's --out is compare's alone: a folder of the user's (their notes, a training run's folder, a data set,
a results file compare did not write) is refused in one line naming --out and the fix before anything is written,
and a new, empty or comparison's folder (with a study's own files named by --out-shared) is taken."""

import json
import os
import shutil
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_runs import PROJECT

TOOLS = os.path.join(PROJECT, "tools")
RECIPE = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")
FIX = "give a new or empty folder as --out (or the --out of a comparison, to resume it)"
SETUP = {"configs": {"rdrop": "a: 1\n"}, "eval_list": "DataLoader.Eval"}


def listing(folder):
    """{relative path: bytes or None for a folder} of everything under `folder`."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), folder)] = None
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                found[os.path.relpath(os.path.join(root, name), folder)] = handle.read()
    return found


def comparison(out):
    """A comparison's folder as compare leaves it: records, configs, a run with its tools' files, the copies."""
    (out / "configs").mkdir(parents=True)
    (out / "setup.json").write_text(json.dumps(SETUP))
    (out / "results.jsonl").write_text(json.dumps({"arm": "rdrop", "seed": 0}) + "\n")
    (out / "report.md").write_text("# report\n")
    (out / "configs" / "rdrop.train.yaml").write_text("a: 1\n")
    (out / "configs" / ".rdrop.eval.yaml.123.partial").write_text("a")  # a killed write's temporary file
    run = out / "runs" / "rdrop_seed0" / "best_model"
    run.mkdir(parents=True)
    (run / "model.pdparams").write_text("w")
    (out / "runs" / "rdrop_seed0" / "train.log").write_text("log")
    (out / "corruptions" / "fog" / "1").mkdir(parents=True)
    (out / "corruptions" / "fog" / "1" / "0.png").write_bytes(b"png")


def refusal(out, *extra):
    from paddleclas_rdrop.tools.compare.command import main

    with pytest.raises(SystemExit) as stop:
        main(TOOLS, ["-c", RECIPE, "--out", str(out), *extra])
    said = str(stop.value.code)
    assert said.startswith(f"error: --out {out}") and "\n" not in said, said
    return said


@pytest.mark.parametrize(
    "layout, words",
    [
        ({"report.md": "MY NOTES"}, "holds report.md but no setup.json of compare.py's"),
        ({"results.jsonl": "mine\n"}, "holds results.jsonl but no setup.json of compare.py's"),
        ({"latest.pdparams": "w", "train.log": "log"}, "holds latest.pdparams, which compare.py does not write"),
        ({"images/0.png": "png", "train_list.txt": "x"}, "holds images, which compare.py does not write"),
        ({"setup.json": "my settings"}, "its setup.json is not one compare.py records"),
        ({"runs/notes.txt": "mine"}, "holds runs/notes.txt, which compare.py does not write"),
    ],
    ids=["notes", "a results file", "a training run's folder", "a data set", "a setup of the user's", "runs/ file"],
)
def test_a_folder_compare_did_not_make_is_refused_before_anything_is_written(tmp_path, layout, words):
    out = tmp_path / "mine"
    for relative, text in layout.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text)
    before = listing(out)
    said = refusal(out)
    assert words in said and said.endswith(FIX)
    assert listing(out) == before  # no configs/, setup.json or report written, nothing replaced


def test_a_file_in_a_comparison_that_compare_does_not_write_is_refused_and_a_study_names_its_own(tmp_path):
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.out_folder import check_out

    out = tmp_path / "out"
    comparison(out)
    check_out(str(out))  # a comparison's folder, its copies and a killed write's leftovers included
    (out / "pretrained.sha256").write_text("abc\n")
    with pytest.raises(ConfigError, match="holds pretrained.sha256, which compare.py does not write"):
        check_out(str(out))
    check_out(str(out), ["pretrained.sha256"])  # --out-shared: the study's record
    (out / "configs" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"holds configs/notes.txt, which compare.py does not write"):
        check_out(str(out), ["pretrained.sha256"])
    shutil.rmtree(tmp_path)


def test_a_comparison_stopped_while_making_its_copies_is_taken_and_an_unreadable_results_file_named(tmp_path):
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.out_folder import check_out

    out = tmp_path / "out"
    (out / "corruptions.partial-999999" / "fog").mkdir(parents=True)
    (out / "corruptions.partial-999999" / ".making").write_text("")
    check_out(str(out))  # no setup.json yet: only the copies were being made
    (out / "setup.json").write_text(json.dumps(SETUP))
    (out / "results.jsonl").write_text("not json\nnot json\n")
    with pytest.raises(ConfigError, match="results.jsonl line 1 is not a whole results line"):
        check_out(str(out))
    shutil.rmtree(tmp_path)


def test_an_out_compare_cannot_write_in_is_named(tmp_path):
    said = refusal("/proc/cmpx", "--corruptions")
    assert said == "error: --out /proc/cmpx: cannot write in /proc (No such file or directory): give a folder you " \
        "can write in as --out"  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(name=st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=20))
def test_any_other_top_level_entry_of_a_comparison_is_refused_and_nothing_changes(tmp_path_factory, name):
    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.out_folder import TOP_FILES, check_out

    if name in (*TOP_FILES, ".", "..", "configs", "runs") or name.startswith(("corruptions", ".compare-check-")):
        return
    if name.startswith(".") and name.endswith(".partial"):
        return
    out = tmp_path_factory.mktemp("compare") / "out"
    comparison(out)
    (out / name).write_text("mine")
    before = listing(out)
    with pytest.raises(ConfigError, match=f"--out {out} holds {name}, which compare.py does not write"):
        check_out(str(out))
    assert listing(out) == before
    shutil.rmtree(out.parent)


def test_the_copies_folder_is_named_as_outs_where_compare_makes_it(workdir):
    import types

    from paddleclas_rdrop.core.errors import ConfigError
    from paddleclas_rdrop.tools.compare.command import make_copies_for

    dataset = {"name": "ImageNetDataset", "image_root": str(workdir / "digits"), "cls_label_path": "val_list.txt"}
    dataset["cls_label_path"] = str(workdir / "digits" / "val_list.txt")
    config = {"DataLoader": {"Eval": {"dataset": dataset}}}
    args = types.SimpleNamespace(out="/proc/cmpx", test_list=None, test_root=None)
    with pytest.raises(ConfigError) as refused:
        make_copies_for(args, config)
    assert str(refused.value).startswith(
        "--out /proc/cmpx: its copies folder /proc/cmpx/corruptions: cannot write in /proc"
    ), str(refused.value)
