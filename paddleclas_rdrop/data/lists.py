"""PaddleClas's list files (`relative/path label` per line): read and checked before training, so
that a bad line, a missing or unreadable image, or a label out of range is named with its file
and line before anything is written. Both engines' start-up checks use it."""
import os

import numpy as np
from PIL import Image

from ..errors import ConfigError


def read_list_file(image_root, list_path, delimiter=" "):
    """(image paths, int labels) of a list file; a bad line, a missing image or one whose header
    no image reader recognises names file and line. Only headers are read (about 25 us an
    image, measured on the digits PNGs from a warm cache), so the check runs before training."""
    if not os.path.isfile(list_path):
        raise ConfigError(f"list file {list_path} not found (cls_label_path)")
    paths, labels = [], []
    with open(list_path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            fields = line.strip().split(delimiter)
            where = f"{list_path}:{number}"
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise ConfigError(f"{where}: expected `relative/path label`, got {line.strip()!r}")
            path = os.path.join(image_root, fields[0])
            if not os.path.isfile(path):
                raise ConfigError(f"{where}: image {path} not found (image_root is {image_root})")
            _check_image_header(path, where)
            paths.append(path)
            labels.append(int(fields[1]))
    if not paths:
        raise ConfigError(f"list file {list_path} has no images")
    return paths, np.asarray(labels, dtype=np.int64)


def _check_image_header(path, where):
    try:
        with Image.open(path):
            pass
    except (OSError, ValueError) as error:
        raise ConfigError(f"{where}: image {path} cannot be read ({type(error).__name__}: {error}); "
                          f"replace it or remove its line") from None


def check_label_range(labels, class_num, list_path):
    if class_num is not None and (labels.min() < 0 or labels.max() >= class_num):
        raise ConfigError(
            f"{list_path} has labels from {labels.min()} to {labels.max()} but Arch.class_num is "
            f"{class_num}: set -o Arch.class_num={labels.max() + 1} (labels must be 0 .. class_num-1)")
