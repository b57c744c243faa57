"""An image folder plus a CSV of `image,label` rows -> PaddleClas list files, split by class."""

import csv
import io
import os
import sys
from collections import Counter

import numpy as np
from PIL import Image

from ...core.errors import ConfigError, DataError, closest
from ...core.files import write_text
from .lists import MAX_IMAGE_PIXELS  # noqa: F401  (PIL's limit for large images, the tools' one policy)
from .text import read_lines, read_text, shown


def csv_reader(csv_path, columns):
    """A `csv.DictReader` of `csv_path` (read by `text.read_text`: UTF-8, a byte-order mark dropped) after
    checking it has `columns` ({column: the flag that names it}); `DataError` naming the flag otherwise."""
    reader = csv.DictReader(io.StringIO(read_text(csv_path, "CSV file"), newline=""))
    names = reader.fieldnames or []
    for column, flag in columns.items():
        if column not in names:  # the header's closest name, else its first that no other flag names
            like = closest(column.strip(), names) or next((name for name in names if name not in columns), column)
            raise DataError(
                f"{shown(csv_path)}: no column {column!r} (columns: {names}): name yours with {flag}, "
                f"e.g. {flag} {like}"
            )
    return reader


def checked_image(name, image_root, where):
    """`name` (a CSV cell) once it is a path without spaces to an image under `image_root` that opens."""
    if any(c.isspace() for c in name):
        raise DataError(
            f"{where}: image path {name!r} has a space, which PaddleClas list files cannot hold: rename the file"
        )
    path = os.path.join(image_root, name)
    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"{where}: image {path} cannot be opened ({error})") from None
    return name


def read_rows(csv_path, image_root, image_column="image", label_column="label"):
    """[(relative image path, raw label, CSV line)] after checking every image exists and opens."""
    rows = []
    reader = csv_reader(csv_path, {image_column: "--image-column", label_column: "--label-column"})
    for row in reader:
        where = f"{csv_path}:{reader.line_num}"
        name, label = (row[image_column] or "").strip(), (row[label_column] or "").strip()
        if not name or not label:
            raise DataError(f"{where}: empty image or label")
        rows.append((checked_image(name, image_root, where), label, reader.line_num))
    if not rows:
        raise DataError(f"{csv_path} has no rows")
    return once_each(rows, csv_path, image_root)


def image_identity(name, image_root):
    """What makes two CSV cells one image: the file itself (its device and inode, `os.stat`, which follows
    symlinks), so `a/b.png`, `./a/b.png`, `a//b.png`, an absolute path, a symlink and a hard link to it are one;
    a file that cannot be stat'ed, its resolved path."""
    path = os.path.join(image_root, name)
    try:
        found = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return found.st_dev, found.st_ino


def once_each(rows, csv_path, image_root):
    """`rows` with each image once: every spelling of one file under `image_root` (`image_identity`: `a/b.png`,
    `./a/b.png`, `a//b.png`, an absolute path, a symlink) is one image. Listed again with the same label, the later
    row is left out with one warning line on stderr; with another label, a `DataError` naming both CSV lines and
    the fix."""
    first, kept, repeated = {}, [], []
    for name, label, line in rows:
        key = image_identity(name, image_root)
        if key not in first:
            first[key] = (name, label, line)
            kept.append((name, label, line))
            continue
        _, first_label, first_line = first[key]
        if label != first_label:
            raise DataError(
                f"{shown(csv_path)}:{line}: image {name} is listed with label {label!r}, but line {first_line} lists "
                f"it with label {first_label!r}: keep the row with its right label and remove the other"
            )
        repeated.append(line)
    if repeated:
        listed = ", ".join(map(str, repeated[:5])) + (", ..." if len(repeated) > 5 else "")
        print(
            f"warning: {shown(csv_path)}: {len(repeated)} row(s) list an image already listed with the same label "
            f"(lines {listed}): each image is written once",
            file=sys.stderr,
        )
    return kept


def class_ids(labels):
    """{raw label: class id}: integer labels keep their value; other labels are numbered in
    sorted order (and then need the label map file)."""
    if all(label.lstrip("-").isdecimal() for label in labels):
        ids = {label: int(label) for label in labels}
        if min(ids.values()) < 0:
            raise DataError("integer labels must be >= 0")
        return ids, False
    return {label: index for index, label in enumerate(sorted(set(labels)))}, True


def stratified_split(ids, val_ratio, seed):
    """(train indices, val indices): each class shuffled with `seed`, `val_ratio` of it to val
    (rounded, and one at least when the class has two images or more)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for class_id in sorted(set(ids)):
        members = [i for i, c in enumerate(ids) if c == class_id]
        rng.shuffle(members)
        n_val = int(round(len(members) * val_ratio))
        if len(members) >= 2 and val_ratio > 0:
            n_val = min(max(n_val, 1), len(members) - 1)
        val += members[:n_val]
        train += members[n_val:]
    return sorted(train), sorted(val)


def write_lists(
    csv_path, image_root, out_dir, val_ratio=0.1, seed=0, force=False, image_column="image", label_column="label"
):
    """Write train_list.txt, val_list.txt (and label_list.txt) in `out_dir`; returns {"train", "val": {class id:
    images}, "classes": the class count, "named": whether string labels were numbered, "names": {id: name}}."""
    if not 0 <= val_ratio < 1:
        raise ConfigError(
            f"--val-ratio {val_ratio}: the share of each class for val must be in [0, 1), e.g. --val-ratio 0.1"
        )
    outputs = {name: os.path.join(out_dir, name) for name in ("train_list.txt", "val_list.txt", "label_list.txt")}
    existing = [path for path in outputs.values() if os.path.exists(path)]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists: pass --force to overwrite it")
    rows = read_rows(csv_path, image_root, image_column, label_column)
    mapping, named = class_ids([label for _, label, _ in rows])
    ids = [mapping[label] for _, label, _ in rows]
    train, val = stratified_split(ids, val_ratio, seed)
    os.makedirs(out_dir, exist_ok=True)
    for name, indices in (("train_list.txt", train), ("val_list.txt", val)):
        write_text(outputs[name], "".join(f"{rows[i][0]} {ids[i]}\n" for i in indices))
    names = {class_id: label for label, class_id in mapping.items()} if named else {}
    write_text(
        outputs["label_list.txt"],
        "".join(
            f"{class_id} {str(names.get(class_id, class_id)).replace(' ', '_')}\n" for class_id in range(max(ids) + 1)
        ),
    )
    return {
        "train": Counter(ids[i] for i in train),
        "val": Counter(ids[i] for i in val),
        "classes": max(ids) + 1,
        "named": named,
        "names": names,
    }


def label_ids(label_list):
    """{class name: id} of a training run's `label_list.txt` (`id name` lines, as `write_lists` writes)."""
    ids = {}
    for number, line in read_lines(label_list, "label list"):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        if not fields[0].isdecimal():
            raise DataError(f"{shown(label_list)}:{number}: expected `id name`, got {line.strip()!r}")
        ids[fields[1].strip() if len(fields) > 1 else fields[0]] = int(fields[0])
    if not ids:
        raise DataError(f"label list {shown(label_list)} names no class")
    return ids


def write_test_list(csv_path, image_root, label_list, out_dir, force=False, image_column="image", label_column="label"):
    """Write `test_list.txt` in `out_dir`: the CSV's rows numbered by the training run's `label_list`
    (the classes it was trained on), for evaluation only. A class the label list lacks is a `DataError`;
    returns {class id: images}."""
    path = os.path.join(out_dir, "test_list.txt")
    if os.path.exists(path) and not force:
        raise ConfigError(f"{path} exists: pass --force to overwrite it")
    ids = label_ids(label_list)
    rows = read_rows(csv_path, image_root, image_column, label_column)
    for name, label, line in rows:
        if label.replace(" ", "_") not in ids:
            raise DataError(
                f"{shown(csv_path)}:{line}: class {label!r} is not among the {len(ids)} classes of "
                f"{shown(label_list)}, which the model was trained on: remove its rows, or train on a CSV that has it"
            )
    os.makedirs(out_dir, exist_ok=True)
    write_text(path, "".join(f"{name} {ids[label.replace(' ', '_')]}\n" for name, label, _ in rows))
    return Counter(ids[label.replace(" ", "_")] for _, label, _ in rows)
