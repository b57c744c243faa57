"""An image folder plus a multi-label CSV -> PaddleClas `MultiLabelDataset` lists (`image<TAB>0,1,0`).

The CSV holds its labels in one of two forms (`LabelSpec`):
- a label column of names joined by a delimiter (`even|prime`; an empty cell is an image with no label);
- one column per label holding 0 or 1 (the columns named, or every column but the image one).

Label names are numbered in sorted order (delimiter) or in column order (0/1 columns) into
`label_list.txt` (`id name`, spaces in a name written as `_`, as the single-label lists)."""

import os
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Tuple

from ...core.errors import ConfigError, DataError
from ...core.files import write_text
from .csv_lists import checked_image, csv_reader, label_ids, once_each, stratified_split
from .text import shown

EVERY_COLUMN = ("",)  # `LabelSpec.columns` meaning every column but the image one


@dataclass(frozen=True)
class LabelSpec:
    """How a multi-label CSV holds its labels: names joined by `delimiter` in `column`, or 0/1 `columns`
    (`EVERY_COLUMN`: all but the image column); `require`: an image with no label is refused."""

    column: str = "label"
    delimiter: Optional[str] = None
    columns: Optional[Tuple[str, ...]] = None
    require: bool = False


def label_columns(reader, image_column, spec, csv_path):
    """The 0/1 columns of `spec` in the CSV read by `reader`, checked to exist."""
    names = [name for name in reader.fieldnames or [] if name != image_column]
    if spec.columns == EVERY_COLUMN:
        if not names:
            raise DataError(f"{shown(csv_path)}: no column besides {image_column!r} to read labels from")
        return names
    missing = [name for name in spec.columns if name not in names]
    if missing:
        raise DataError(
            f"{shown(csv_path)}: no column {missing[0]!r} (columns: {reader.fieldnames}): fix --label-columns"
        )
    return list(spec.columns)


def row_labels(row, spec, columns, where):
    """The label names of one CSV row (a frozenset), its cells checked."""
    if spec.delimiter is None:
        bad = [(column, row[column]) for column in columns if (row[column] or "").strip() not in ("0", "1")]
        if bad:
            raise DataError(f"{where}: column {bad[0][0]!r} holds {bad[0][1]!r}: a 0/1 label column holds 0 or 1")
        return frozenset(column.replace(" ", "_") for column in columns if row[column].strip() == "1")
    cell = (row[spec.column] or "").strip()
    if not cell:
        return frozenset()
    names = [name.strip() for name in cell.split(spec.delimiter)]
    if not all(names):
        raise DataError(
            f"{where}: label {cell!r} has an empty name between delimiters ({spec.delimiter!r}): remove the extra one"
        )
    return frozenset(name.replace(" ", "_") for name in names)


def read_multilabel_rows(csv_path, image_root, image_column, spec, known=None):
    """(the label names of the 0/1 columns, or None, [(relative image path, frozenset of label names, CSV
    line)]), each image checked to open, each image once (`csv_lists.once_each`); `known`: the only label
    names allowed (a test CSV)."""
    flags = {image_column: "--image-column"}
    if spec.delimiter is not None:
        flags[spec.column] = "--label-column"
    reader = csv_reader(csv_path, flags)
    columns = label_columns(reader, image_column, spec, csv_path) if spec.delimiter is None else None
    strange = [column for column in columns or [] if known is not None and column.replace(" ", "_") not in known]
    if strange:
        raise DataError(
            f"{shown(csv_path)}:1: column {strange[0]!r} is not among the {len(known)} labels the model was trained "
            f"on ({', '.join(known)}): name the label columns with --label-columns"
        )
    rows = []
    for row in reader:
        where = f"{shown(csv_path)}:{reader.line_num}"
        name = (row[image_column] or "").strip()
        if not name:
            raise DataError(f"{where}: empty image")
        labels = row_labels(row, spec, columns, where)
        unknown = sorted(labels - set(known)) if known is not None else []
        if unknown:
            raise DataError(
                f"{where}: label {unknown[0]!r} is not among the {len(known)} labels the model was trained on "
                f"({', '.join(known)}): remove it, or train on a CSV that has it"
            )
        if not labels and spec.require:
            raise DataError(f"{where}: image {name} has no label (--require-label): give it one, or remove the row")
        rows.append((checked_image(name, image_root, where), "|".join(sorted(labels)), reader.line_num))
    if not rows:
        raise DataError(f"{csv_path} has no rows")
    kept = once_each(rows, csv_path, image_root)
    names = [column.replace(" ", "_") for column in columns] if columns is not None else None
    return names, [(name, frozenset(filter(None, text.split("|"))), line) for name, text, line in kept]


def list_line(name, labels, names):
    """A `MultiLabelDataset` list line: the image, a tab, a 0/1 per label of `names`."""
    return f"{name}\t{','.join('1' if label in labels else '0' for label in names)}\n"


def free(paths, force):
    """Refuse (`ConfigError`) to overwrite the first of `paths` that exists, unless `force`."""
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists: pass --force to overwrite it")


def write_multilabel_lists(
    csv_path, image_root, out_dir, spec, val_ratio=0.1, seed=0, force=False, image_column="image"
):
    """Write train_list.txt, val_list.txt and label_list.txt in `out_dir`, the split stratified by each image's
    set of labels; returns {"labels": names, "train"/"val": {label: images}, "images": {split: n}, "none": n}."""
    if not 0 <= val_ratio < 1:
        raise ConfigError(
            f"--val-ratio {val_ratio}: the share of each class for val must be in [0, 1), e.g. --val-ratio 0.1"
        )
    outputs = {name: os.path.join(out_dir, name) for name in ("train_list.txt", "val_list.txt", "label_list.txt")}
    free(outputs.values(), force)
    names, rows = read_multilabel_rows(csv_path, image_root, image_column, spec)
    names = names or sorted(set().union(*(labels for _, labels, _ in rows)))
    if not names:
        raise DataError(f"{shown(csv_path)}: no image has a label: nothing to learn")
    sets = sorted({labels for _, labels, _ in rows}, key=sorted)
    train, val = stratified_split([sets.index(labels) for _, labels, _ in rows], val_ratio, seed)
    os.makedirs(out_dir, exist_ok=True)
    counts = {"labels": names, "images": {}, "none": sum(not labels for _, labels, _ in rows)}
    for split, indices in (("train", train), ("val", val)):
        write_text(outputs[f"{split}_list.txt"], "".join(list_line(rows[i][0], rows[i][1], names) for i in indices))
        counts[split] = Counter(label for i in indices for label in rows[i][1])
        counts["images"][split] = len(indices)
    write_text(outputs["label_list.txt"], "".join(f"{index} {name}\n" for index, name in enumerate(names)))
    return counts


def write_multilabel_test_list(csv_path, image_root, label_list, out_dir, spec, force=False, image_column="image"):
    """Write `test_list.txt` in `out_dir`: the CSV's rows with a 0/1 per label of the training run's
    `label_list` (a label it lacks is a `DataError` naming the CSV line); returns {label: images}."""
    path = os.path.join(out_dir, "test_list.txt")
    free([path], force)
    ids = label_ids(label_list)
    names = sorted(ids, key=ids.get)
    _, rows = read_multilabel_rows(csv_path, image_root, image_column, spec, known=names)
    os.makedirs(out_dir, exist_ok=True)
    write_text(path, "".join(list_line(name, labels, names) for name, labels, _ in rows))
    return Counter(label for _, labels, _ in rows for label in labels), len(rows)
