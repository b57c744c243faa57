"""A multi-label list's targets, checked where both engines read lists (`tools/data/lists.parse_list_file`,
`check_label_range`) and what a multi-label config's losses and metrics take of them
(`tools/data/multilabel_checks.check_multilabel`, run by `preflight.check_lists` under PaddleClas's Engine and by
the standalone engine). The runs on both engines: the command in docs/reliability.md's rows."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddleclas_rdrop.core.errors import ConfigError, DataError
from paddleclas_rdrop.tools.data.lists import check_label_range, parse_list_file
from paddleclas_rdrop.tools.data.multilabel_checks import check_multilabel


def write_list(folder, rows):
    path = folder / "list.txt"
    path.write_text("".join(f"imgs/{i}.png\t{','.join(map(str, row))}\n" for i, row in enumerate(rows)))
    return path


@given(st.integers(-1000, 1000).filter(lambda value: value not in (-1, 0, 1)), st.integers(0, 3), st.integers(0, 4))
def test_a_target_other_than_1_0_or_minus_1_is_named_with_its_line_and_label(tmp_path_factory, value, row, column):
    rows = np.zeros((4, 5), dtype=int)
    rows[row, column] = value
    path = write_list(tmp_path_factory.mktemp("targets"), rows)
    with pytest.raises(DataError, match=rf"list.txt:{row + 1}: target {value} \(label {column}\) is not a multi-label"):
        parse_list_file("", str(path), "\t", multilabel=True)


def test_targets_of_1_0_and_minus_1_are_read(tmp_path):
    rows = [[1, 0, -1], [0, 0, 1]]
    _, labels, _ = parse_list_file("", str(write_list(tmp_path, rows)), "\t", multilabel=True)
    np.testing.assert_array_equal(labels, rows)


def test_a_val_list_of_another_width_is_named_against_the_train_list():
    train = ("train.txt", np.zeros((3, 5), dtype=np.int64))
    with pytest.raises(DataError, match=r"val.txt has 4 targets per line but the train list train.txt has 5 \("):
        check_label_range(np.zeros((2, 4), dtype=np.int64), 5, "val.txt", train=train)
    with pytest.raises(DataError, match=r"set -o Arch.class_num=4"):  # the train list does not fit class_num either
        check_label_range(np.zeros((2, 4), dtype=np.int64), 5, "val.txt", train=("train.txt", np.zeros((3, 4))))


def config(metrics, loss=None, label_ratio=None):
    dataset = {} if label_ratio is None else {"label_ratio": label_ratio}
    return {
        "Global": {"use_multilabel": True},
        "DataLoader": {"Eval": {"dataset": dataset}},
        "Loss": {"Eval": loss or [{"MultiLabelLoss": {"weight": 1.0}}]},
        "Metric": {"Eval": metrics},
    }


@pytest.mark.parametrize("metric", ["HammingDistance", "AccuracyScore"])
def test_a_minus_1_target_is_refused_for_the_scikit_learn_metrics_only(metric):
    unknown = {"Eval": ("va.txt", np.array([[1, -1], [0, 1]]))}
    with pytest.raises(ConfigError, match=rf"Metric.Eval.1.{metric}: va.txt has targets of -1"):
        check_multilabel(config([{"ATTRMetric": None}, {metric: None}]), unknown)
    check_multilabel(config([{"ATTRMetric": None}]), unknown)
    check_multilabel(config([{metric: None}]), {"Eval": ("va.txt", np.array([[1, 0], [0, 1]]))})


def test_weight_ratio_needs_the_datasets_label_ratio():
    loss = [{"MultiLabelLoss": {"weight": 1.0, "weight_ratio": True}}]
    known = {"Eval": ("va.txt", np.array([[1, 0]]))}
    with pytest.raises(ConfigError, match=r"Loss.Eval.MultiLabelLoss.weight_ratio: .*dataset.label_ratio: True"):
        check_multilabel(config([], loss), known)
    check_multilabel(config([], loss, label_ratio=True), known)


def test_a_list_where_no_image_has_a_label_has_no_map_and_is_refused():
    from paddleclas_rdrop.tools.data.multilabel_checks import check_positives

    check_positives("--test-list t.txt", np.array([[0, 1], [-1, 0]]))
    check_positives("--test-list t.txt", np.zeros((0, 2)))  # nothing to score: the list's own check names it
    for labels in (np.zeros((3, 2)), np.array([[0, -1], [-1, 0]])):
        with pytest.raises(ConfigError, match=r"^--test-list t.txt: no image has any of its labels .* mAP"):
            check_positives("--test-list t.txt", labels)
