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
