"""tools/csv_to_lists.py on a multi-label CSV: the MultiLabelDataset lists, the label list and the overrides
from a delimited label column or from 0/1 columns, the test list numbered as the training labels, and one
`error:` line naming the CSV line for each bad input."""

import os
import subprocess
import sys

import pytest
from PIL import Image

from engine_runs import PROJECT

SCRIPT = os.path.join(PROJECT, "tools", "csv_to_lists.py")


def folder_with(tmp_path, rows, header="image,label", name="my_images"):
    """`tmp_path/name` with a 4x4 PNG per row's first cell and `labels.csv` of `header` and `rows`."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    for row in rows:
        Image.new("RGB", (4, 4)).save(folder / row.split(",")[0])
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def csv_to_lists(folder, out, *flags):
    command = [sys.executable, SCRIPT, "--csv", str(folder / "labels.csv"), "--image-root", str(folder)]
    return subprocess.run(command + ["--out", str(out), *flags], capture_output=True, text=True, timeout=120)


DELIMITED = ["a.png,cat|dog", "b.png,dog", "c.png,", "d.png,cat", "e.png,dog|cat"]


def test_a_delimited_label_column_gives_multilabel_lists_and_overrides(tmp_path):
    folder = folder_with(tmp_path, DELIMITED)
    result = csv_to_lists(folder, tmp_path / "lists", "--label-delimiter", "|", "--val-ratio", "0")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lists" / "label_list.txt").read_text() == "0 cat\n1 dog\n"
    lines = (tmp_path / "lists" / "train_list.txt").read_text().splitlines()
    assert lines == ["a.png\t1,1", "b.png\t0,1", "c.png\t0,0", "d.png\t1,0", "e.png\t1,1"]
    keys = (tmp_path / "lists" / "overrides.txt").read_text().split("\n")
    for key in (
        "-o Arch.class_num=2",
        "-o Global.use_multilabel=True",
        "-o DataLoader.Train.dataset.name=MultiLabelDataset",
        "-o DataLoader.Eval.dataset.name=MultiLabelDataset",
        "-o Loss.Train.0={'MultiLabelLoss':{'weight':1.0}}",
        "-o Loss.Eval.0={'MultiLabelLoss':{'weight':1.0}}",
        "-o Metric.Eval=[{'MultiLabelMAP':{}},{'HammingDistance':{}}]",
    ):
        assert key in keys
    assert not any(" " in key.split(" ", 1)[1] for key in keys if key)  # each survives $(cat overrides.txt)
    assert len([key for key in keys if "batch_transform_ops" in key]) == 1
    assert "(1 images with none of them)" in result.stdout


def test_zero_one_columns_and_a_test_csv_numbered_as_the_training_labels(tmp_path):
    rows = ["a.png,1,0,1", "b.png,0,1,0", "c.png,1,1,0", "d.png,0,0,1"]
    folder = folder_with(tmp_path, rows, header="image,x,y,z")
    assert csv_to_lists(folder, tmp_path / "lists", "--every-column-a-label", "--val-ratio", "0").returncode == 0
    assert (tmp_path / "lists" / "label_list.txt").read_text() == "0 x\n1 y\n2 z\n"
    assert (tmp_path / "lists" / "train_list.txt").read_text().splitlines()[0] == "a.png\t1,0,1"
    test = folder_with(tmp_path, ["t.png,z|x"], name="my_test")
    label_list = str(tmp_path / "lists" / "label_list.txt")
    result = csv_to_lists(test, tmp_path / "test", "--label-list", label_list, "--label-delimiter", "|")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "test" / "test_list.txt").read_text() == "t.png\t1,0,1\n"
    assert "cls_label_path=" in (tmp_path / "test" / "test_overrides.txt").read_text()


BAD = [  # (rows, header, flags, the words of the one error line)
    (["a.png,1,0", "b.png,1,2"], "image,x,y", ["--label-columns", "x,y"], "labels.csv:3: column 'y' holds '2'"),
    (["a.png,1"], "image,x", ["--label-columns", "x,w"], "no column 'w'"),
    (["a.png,cat", "b.png,"], "image,label", ["--label-delimiter", "|", "--require-label"], "csv:3: image b.png"),
    (["a.png,cat||dog"], "image,label", ["--label-delimiter", "|"], "labels.csv:2: label 'cat||dog' has an empty"),
    (["a.png,"], "image,label", ["--label-delimiter", "|"], "no image has a label"),
    (["a.png,cat"], "image,label", ["--label-delimiter", "|", "--label-columns", "x"], "give one of them"),
    (["a.png,cat", "a.png,dog"], "image,label", ["--label-delimiter", "|"], "line 2 lists it with label 'cat'"),
]


@pytest.mark.parametrize("rows, header, flags, words", BAD)
def test_a_bad_multilabel_csv_is_one_error_line(rows, header, flags, words, tmp_path):
    result = csv_to_lists(folder_with(tmp_path, rows, header), tmp_path / "lists", *flags)
    assert result.returncode == 1 and words in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: ")


def test_a_test_label_the_model_was_not_trained_on_names_its_line(tmp_path):
    folder = folder_with(tmp_path, DELIMITED)
    assert csv_to_lists(folder, tmp_path / "lists", "--label-delimiter", "|").returncode == 0
    test = folder_with(tmp_path, ["t.png,cat", "u.png,cat|bird"], name="my_test")
    label_list = str(tmp_path / "lists" / "label_list.txt")
    result = csv_to_lists(test, tmp_path / "test", "--label-list", label_list, "--label-delimiter", "|")
    assert result.returncode == 1 and "labels.csv:3: label 'bird' is not among the 2 labels" in result.stderr
