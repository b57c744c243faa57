"""Per-class results of a single-label evaluation, as a practitioner reads them next to top-1: each class's
precision, recall and support, the balanced accuracy and the confusion matrix, computed by scikit-learn
(`classification_report`, `balanced_accuracy_score`, `confusion_matrix`: the reference), worded as the tools print
them (`per_class_lines`), and kept as JSON (`write_per_class`, `read_per_class`) for `tools/compare.py`.

Balanced accuracy is the mean of the per-class recalls over the classes the list holds (scikit-learn's
`balanced_accuracy_score`; Brodersen et al., "The balanced accuracy and its posterior distribution", ICPR 2010):
a model that always answers the majority class scores 1 / (classes) there, whatever its top-1."""

import json
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..core.files import write_text

TABLE_UP_TO = 20  # classes: up to this many, every class and the whole confusion matrix are printed
WORST = 10  # beyond that, this many classes of lowest recall


@dataclass(frozen=True)
class PerClass:
    """The per-class results of `images` predictions of `len(names)` classes.

    `names` [C] str; `confusion` int [C, C] (rows: the true class, columns: the predicted one, scikit-learn's
    orientation); `precision`, `recall` float [C] in [0, 1], NaN where undefined (no image predicted as the class,
    no image of it); `support` int [C] (images of each class); `balanced_accuracy` and `top1` in [0, 1]."""

    names: List[str]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    support: np.ndarray
    balanced_accuracy: float
    top1: float

    @property
    def images(self) -> int:
        return int(self.support.sum())


def per_class(
    labels: Sequence[int], predicted: Sequence[int], class_num: Optional[int] = None, names: Optional[Dict] = None
) -> PerClass:
    """The `PerClass` of true `labels` [N] and `predicted` class ids [N] (ints from 0), over `class_num` classes
    (at least every id seen), named from `names` ({id: name}; the id where it has none). Raises `ValueError` for
    no label or lists of different lengths."""
    from sklearn.metrics import balanced_accuracy_score, classification_report, confusion_matrix

    labels, predicted = (
        np.asarray(labels, dtype=np.int64).reshape(-1),
        np.asarray(predicted, dtype=np.int64).reshape(-1),
    )
    if not len(labels) or len(labels) != len(predicted):
        raise ValueError(f"per-class results need as many predictions as labels, at least one: {len(labels)} labels")
    classes = list(range(max(class_num or 0, int(labels.max()) + 1, int(predicted.max()) + 1)))
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": a class the list lacks, said as NaN
        warnings.simplefilter("ignore")
        report = classification_report(labels, predicted, labels=classes, output_dict=True, zero_division=np.nan)
        balanced = float(balanced_accuracy_score(labels, predicted))
    confusion = confusion_matrix(labels, predicted, labels=classes)
    rows = [report[str(c)] for c in classes]
    return PerClass(
        names=[str((names or {}).get(c, c)) for c in classes],
        confusion=confusion,
        precision=np.array([row["precision"] for row in rows], dtype=np.float64),
        recall=np.array([row["recall"] for row in rows], dtype=np.float64),
        support=confusion.sum(axis=1),
        balanced_accuracy=balanced,
        top1=float(np.trace(confusion) / confusion.sum()),
    )


def _label(result: PerClass, index: int, width: int = 24) -> str:
    """A class as a table names it: its id, and its name where that is not the id (cut to `width`)."""
    name = result.names[index]
    text = str(index) if name == str(index) else f"{index} {name}"
    return text if len(text) <= width else text[: width - 1] + "~"


def _share(value: float) -> str:
    return "    -" if np.isnan(value) else f"{value:.3f}"


def per_class_lines(result: PerClass, what: str) -> List[str]:
    """The printed per-class results of `what` (the list evaluated, e.g. "test_list.txt (524 images)"): a row per
    class (precision, recall, support), the balanced accuracy beside top-1, and the confusion matrix; beyond
    `TABLE_UP_TO` classes, the `WORST` classes of lowest recall, each with the class it is most often taken for."""
    count = len(result.names)
    width = max(len("class"), *(len(_label(result, c)) for c in range(count))) + 2
    header = f"  {'class':<{width}}precision  recall  support"
    shown = range(count)
    lines = [f"per-class results on {what}, {count} classes (scikit-learn's classification_report):"]
    if count > TABLE_UP_TO:
        seen = [c for c in range(count) if result.support[c]]
        shown = sorted(seen, key=lambda c: (result.recall[c], c))[:WORST]
        lines = [f"per-class results on {what}: the {len(shown)} of {count} classes of lowest recall:"]
        header += "  most often taken for"
    lines.append(header)
    for c in shown:
        row = f"  {_label(result, c):<{width}}{_share(result.precision[c]):>9}  {_share(result.recall[c]):>6}"
        row += f"  {result.support[c]:>7}"
        if count > TABLE_UP_TO:
            wrong = result.confusion[c].copy()
            wrong[c] = 0
            row += f"  {_label(result, int(wrong.argmax()))} ({wrong.max()})" if wrong.any() else "  -"
        lines.append(row)
    lines.append(
        f"balanced accuracy: {result.balanced_accuracy:.5f} (the mean of the per-class recalls), "
        f"top-1: {result.top1:.5f}"
    )
    if count <= TABLE_UP_TO:
        lines += confusion_lines(result, width)
    return lines


def confusion_lines(result: PerClass, width: int) -> List[str]:
    """The confusion matrix as a table: a row per true class, a column per predicted class id."""
    cell = max(4, len(str(result.confusion.max())) + 1)
    lines = ["confusion matrix (rows: the true class, columns: the predicted class id):"]
    lines.append(" " * (width + 2) + "".join(f"{c:>{cell}}" for c in range(len(result.names))))
    for c, row in enumerate(result.confusion):
        lines.append(f"  {_label(result, c):<{width}}" + "".join(f"{n:>{cell}}" for n in row))
    return lines


def write_per_class(path: str, result: PerClass, evaluated: str) -> None:
    """Write `result` and the list it scored (`evaluated`) to `path` as JSON, whole or not at all: {"list",
    "images", "names", "confusion_matrix", "precision", "recall" (null where undefined), "support",
    "balanced_accuracy", "top1"}."""
    fields = {
        "list": evaluated,
        "images": result.images,
        "names": result.names,
        "confusion_matrix": result.confusion.tolist(),
        "precision": [None if np.isnan(v) else float(v) for v in result.precision],
        "recall": [None if np.isnan(v) else float(v) for v in result.recall],
        "support": result.support.tolist(),
        "balanced_accuracy": result.balanced_accuracy,
        "top1": result.top1,
    }
    write_text(path, json.dumps(fields, indent=1))


def read_per_class(path: str) -> Dict:
    """What `write_per_class` wrote to `path`, as a dict."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
