"""`--save`'s CSV is written whole or not at all: a prediction stopped part-way (a Ctrl-C, an error) leaves the
file of an earlier call as it was and no temporary file."""

import os

import pytest

from paddleclas_rdrop.tools.predict import PredictionFile


def test_a_stopped_prediction_leaves_the_earlier_csv_and_no_temporary_file(tmp_path):
    path = tmp_path / "predictions.csv"
    result = {"class_ids": [3], "scores": [0.9], "label_names": ["cat"]}
    with PredictionFile(str(path)) as saved:
        saved.add("a.png", result, None)
    earlier = path.read_text()
    assert earlier.splitlines() == ["image,class_id,class_name,score", "a.png,3,cat,0.900000"]
    with pytest.raises(KeyboardInterrupt):
        with PredictionFile(str(path)) as saved:
            saved.add("b.png", result, None)
            raise KeyboardInterrupt
    assert path.read_text() == earlier and os.listdir(tmp_path) == ["predictions.csv"]


def test_a_save_in_missing_folders_is_written_and_under_a_file_is_one_line_naming_save(tmp_path):
    from paddleclas_rdrop.core.errors import PathError, naming_paths

    path = tmp_path / "new" / "folder" / "predictions.csv"
    with PredictionFile(str(path)) as saved:
        saved.add("a.png", {"class_ids": [3], "scores": [0.9], "label_names": ["cat"]}, None)
    assert path.read_text().splitlines()[1] == "a.png,3,cat,0.900000"
    (tmp_path / "taken").write_text("")
    blocked = str(tmp_path / "taken" / "predictions.csv")
    with pytest.raises(PathError) as refused:
        with naming_paths({"--save": blocked}):
            PredictionFile(blocked)
    assert str(refused.value).startswith(f"--save {blocked}: {tmp_path / 'taken'} is a file, not a folder")
    assert sorted(os.listdir(tmp_path)) == ["new", "taken"]
