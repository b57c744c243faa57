"""A run's `-o` arguments as its user typed them: the overrides of a `$(cat .../overrides.txt)` given back as
that file, each key once (the last value wins, as in PaddleClas), for the commands the end-of-run summary prints."""

import pytest

from paddleclas_rdrop.tools.data.override_files import as_typed, typed_items

LISTS = ["Arch.class_num=2", "DataLoader.Train.dataset.cls_label_path=my_lists/train_list.txt", "Global.epochs=10"]
TEST = ["DataLoader.Eval.dataset.cls_label_path=my_test_lists/test_list.txt"]


@pytest.fixture
def lists(tmp_path, monkeypatch):
    """`my_lists/` and `my_test_lists/` as tools/csv_to_lists.py writes them, in the working folder."""
    monkeypatch.chdir(tmp_path)
    for folder, names, lines in (("my_lists", ["train_list.txt"], LISTS), ("my_test_lists", ["test_list.txt"], TEST)):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_text("a.png 0\n")
        name = "overrides.txt" if folder == "my_lists" else "test_overrides.txt"
        (tmp_path / folder / name).write_text("".join(f"-o {line}\n" for line in lines))
    return tmp_path


def test_the_readme_commands_come_back_as_typed_with_each_key_once(lists):
    given = LISTS + ["Global.device=cpu", "Global.epochs=4", "Global.pretrained_model=x", "Global.epochs=3"] + TEST
    assert as_typed(given, leave_out=("Global.pretrained_model",)) == (
        "$(cat my_lists/overrides.txt) -o Global.device=cpu -o Global.epochs=3 $(cat my_test_lists/test_overrides.txt)"
    )
    assert as_typed(["Global.epochs=4"] + LISTS) == "$(cat my_lists/overrides.txt)"  # the file's value wins


def test_overrides_that_are_not_a_files_whole_run_stay_as_they_are(lists):
    shuffled = [LISTS[1], LISTS[0], LISTS[2]]
    assert [path for path, _ in typed_items(shuffled)] == [None, None, None]
    assert as_typed(LISTS[:2]) == " ".join(f"-o {line}" for line in LISTS[:2])
    (lists / "my_lists" / "overrides.txt").write_text("not -o lines\n")
    assert as_typed(LISTS) == " ".join(f"-o {line}" for line in LISTS)
    assert as_typed(["Global.output_dir=my run"]) == "-o 'Global.output_dir=my run'"
