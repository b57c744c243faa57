"""The per-class results of an evaluation (`paddleclas_rdrop/tools/per_class.py`) against scikit-learn and against
the numbers worked out by hand, on a small imbalanced example where balanced accuracy and top-1 disagree; the
printed table and confusion matrix, the worst classes beyond 20, and the JSON that tools/compare.py reads."""

import re

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_score, recall_score

from paddleclas_rdrop.tools.per_class import per_class, per_class_lines, read_per_class, write_per_class

# 10 images of class 0 (functional), 4 of class 1 (defective), none of class 2 (a class the list lacks):
# the model finds 9 of the 10 functional cells and 1 of the 4 defective ones, and calls one functional cell class 2
LABELS = [0] * 10 + [1] * 4
PREDICTED = [0] * 8 + [1, 2] + [0, 0, 0, 1]
NAMES = {0: "functional", 1: "defective", 2: "cracked"}


def test_the_numbers_are_scikit_learns_and_balanced_accuracy_is_not_top1():
    result = per_class(LABELS, PREDICTED, class_num=3, names=NAMES)
    assert result.names == ["functional", "defective", "cracked"] and result.images == 14
    # by hand: recall 8/10 and 1/4, balanced accuracy (0.8 + 0.25) / 2 = 0.525; top-1 9/14 = 0.643
    assert result.recall[:2].tolist() == [0.8, 0.25] and np.isnan(result.recall[2])
    assert result.balanced_accuracy == pytest.approx(0.525) and result.top1 == pytest.approx(9 / 14)
    assert result.precision[:2].tolist() == [8 / 11, 1 / 2] and result.precision[2] == 0.0  # 1 predicted, wrong
    assert result.support.tolist() == [10, 4, 0]
    assert result.confusion.tolist() == [[8, 1, 1], [3, 1, 0], [0, 0, 0]]  # rows: true class
    # and scikit-learn's own functions agree (per_class says nothing of the class the list lacks: NaN says it)
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        assert result.balanced_accuracy == pytest.approx(balanced_accuracy_score(LABELS, PREDICTED))
    assert (result.confusion == confusion_matrix(LABELS, PREDICTED, labels=[0, 1, 2])).all()
    assert result.recall[:2] == pytest.approx(recall_score(LABELS, PREDICTED, labels=[0, 1], average=None))
    assert result.precision[:2] == pytest.approx(precision_score(LABELS, PREDICTED, labels=[0, 1], average=None))


def test_the_printed_table_names_each_class_and_its_confusion_row():
    lines = per_class_lines(per_class(LABELS, PREDICTED, class_num=3, names=NAMES), "test_list.txt (14 images)")
    text = "\n".join(lines)
    assert lines[0].startswith("per-class results on test_list.txt (14 images), 3 classes")
    assert re.search(r"^  0 functional\s+0\.727\s+0\.800\s+10$", text, re.M), text
    assert re.search(r"^  1 defective\s+0\.500\s+0\.250\s+4$", text, re.M), text
    assert re.search(r"^  2 cracked\s+0\.000\s+-\s+0$", text, re.M), text  # no image of it: no recall
    assert "balanced accuracy: 0.52500 (the mean of the per-class recalls), top-1: 0.64286" in lines
    matrix = lines[lines.index("confusion matrix (rows: the true class, columns: the predicted class id):") + 2 :]
    assert [row.split()[2:] for row in matrix] == [["8", "1", "1"], ["3", "1", "0"], ["0", "0", "0"]]


def test_beyond_twenty_classes_the_worst_by_recall_and_what_they_are_taken_for():
    labels = np.repeat(np.arange(25), 4)
    predicted = labels.copy()
    predicted[[8, 9, 10]] = 7  # class 2: 1 of 4 found, three taken for class 7
    predicted[20] = 0  # class 5: 3 of 4
    lines = per_class_lines(per_class(labels, predicted), "val_list.txt (100 images)")
    assert lines[0] == "per-class results on val_list.txt (100 images): the 10 of 25 classes of lowest recall:"
    assert re.fullmatch(r"  2\s+1\.000\s+0\.250\s+4\s+7 \(3\)", lines[2]), lines[2]
    assert re.fullmatch(r"  5\s+1\.000\s+0\.750\s+4\s+0 \(1\)", lines[3]), lines[3]
    assert len(lines) == 2 + 10 + 1 and "confusion matrix" not in "\n".join(lines)


def test_the_json_keeps_what_was_printed(tmp_path):
    result = per_class(LABELS, PREDICTED, class_num=3, names=NAMES)
    write_per_class(str(tmp_path / "per_class.json"), result, "test_list.txt")
    read = read_per_class(str(tmp_path / "per_class.json"))
    assert read["list"] == "test_list.txt" and read["support"] == [10, 4, 0] and read["recall"][2] is None
    assert read["balanced_accuracy"] == result.balanced_accuracy and read["confusion_matrix"][1] == [3, 1, 0]
    assert [p.name for p in tmp_path.iterdir()] == ["per_class.json"]  # no partial file left


def test_no_label_is_an_error():
    with pytest.raises(ValueError, match="as many predictions as labels"):
        per_class([], [])
    with pytest.raises(ValueError, match="as many predictions as labels"):
        per_class([0, 1], [0])
