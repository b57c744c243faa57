"""compare.py checks the list its runs are evaluated on before any run trains: labels the model's classes do not
hold, a multi-label list for a single-label recipe (and the converse), a bad line or a missing image are one line
naming --test-list (or DataLoader.Eval's list) and the list's fix, and nothing is written."""

import os

import pytest

from engine_runs import PROJECT, TINY, overrides

TOOLS = os.path.join(PROJECT, "tools")
RECIPE = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")


def refusal(workdir, out, *extra):
    from paddleclas_rdrop.tools.compare.command import main

    keys = overrides(workdir, "unused") + TINY
    with pytest.raises(SystemExit) as stop:
        main(TOOLS, ["-c", RECIPE, "--out", str(out), *[a for k in keys for a in ("-o", k)], *extra])
    said = str(stop.value.code)
    assert said.startswith("error: ") and "\n" not in said and not out.exists(), said
    return said


def test_a_test_list_that_does_not_fit_the_config_is_named_before_any_training(workdir, tmp_path):
    lines = (workdir / "digits" / "val_list.txt").read_text().split()
    images = lines[0::2]
    shifted = tmp_path / "shifted.txt"
    shifted.write_text("".join(f"{image} {6 + index % 7}\n" for index, image in enumerate(images)))
    said = refusal(workdir, tmp_path / "out", "--test-list", str(shifted))
    assert said == (
        f"error: --test-list {shifted} has labels from 6 to 12 but the compared model has 10 classes, 0 to 9 "
        "(Arch.class_num, the train list's): number the test list by the train list's classes: "
        "tools/csv_to_lists.py --csv <test CSV> --label-list <the train lists' label_list.txt> writes it"
    )
    multilabel = tmp_path / "multilabel.txt"
    multilabel.write_text("".join(f"{image}\t0,1,0\n" for image in images))
    said = refusal(workdir, tmp_path / "out", "--test-list", str(multilabel))
    assert said.startswith(f"error: --test-list {multilabel} is a multi-label (path<TAB>0,1,0,... per line) list ")
    assert said.endswith(
        "single-label (Global.use_multilabel is not set): give a single-label (path label per line) list"
    )
    missing = tmp_path / "missing.txt"
    missing.write_text("no/such.png 1\n")
    said = refusal(workdir, tmp_path / "out", "--test-list", str(missing))
    assert said.startswith(f"error: --test-list {missing}: {missing}:1: image ") and "not found" in said
