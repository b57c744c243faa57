"""Small real data that installs offline, written as PaddleClas image datasets: scikit-learn's
digits, and Fashion-MNIST from Debian's `dataset-fashion-mnist` package."""

import gzip
import os

import numpy as np
from PIL import Image

from ...core.errors import DataError
from ...core.files import write_text

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle_boot",
)


def digits_images(size=32, count=None):
    """The 8x8 digits upscaled to `size` x `size` uint8 RGB, with their int labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.images[:count] * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack(
        [np.asarray(Image.fromarray(p).resize((size, size), Image.BILINEAR).convert("RGB")) for p in pixels]
    )
    return images, digits.target[:count].astype(np.int64)


def _write_images(root, images, labels, names):
    """PNG files under root/images and the list lines naming them, one per image."""
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    lines = []
    for index, (image, label) in enumerate(zip(images, labels)):
        name = f"images/{names}{index:05d}.png"
        Image.fromarray(image).convert("RGB").save(os.path.join(root, name))
        lines.append(f"{name} {label}\n")
    return lines


def _write_lists(root, splits, class_names):
    """Each list whole or not at all, the label list last: a dataset with it was written to the end."""
    for name, lines in splits.items():
        write_text(os.path.join(root, name), "".join(lines))
    write_text(
        os.path.join(root, "label_list.txt"),
        "".join(f"{index} {name.replace(' ', '_')}\n" for index, name in enumerate(class_names)),
    )


def _lists_exist(root):
    names = ("train_list.txt", "val_list.txt", "label_list.txt")  # the label list written last
    return all(os.path.exists(os.path.join(root, name)) for name in names)


def write_digits_dataset(root, size=32, count=None, val_fraction=0.2, seed=0):
    """Write the digits as PNG files with PaddleClas list files, on a fixed seeded split.

    `root/images/<index>.png`, `root/train_list.txt` and `root/val_list.txt` (lines
    `images/<index>.png <label>`), `root/label_list.txt` (`<id> <name>`, PaddleClas's
    class_id_map_file). An existing dataset (its three lists present: each is written whole, the label list last)
    is reused as it is.
    """
    if _lists_exist(root):
        return root
    images, labels = digits_images(size=size, count=count)
    lines = _write_images(root, images, labels, names="")
    order = np.random.default_rng(seed).permutation(len(lines))
    n_val = int(round(len(lines) * val_fraction))
    _write_lists(
        root,
        {
            "train_list.txt": [lines[i] for i in sorted(order[n_val:])],
            "val_list.txt": [lines[i] for i in sorted(order[:n_val])],
        },
        [str(label) for label in range(10)],
    )
    return root


def read_idx(path):
    """A gzipped IDX file (the MNIST format) as a uint8 array."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_fashion_mnist_dataset(root, train_count=None, source=FASHION_MNIST_DIR, seed=0):
    """Fashion-MNIST's official split as PaddleClas lists: `train_count` seeded training images
    (all 60k if None) and the whole 10k test set as val_list.txt. Reused if already written."""
    if _lists_exist(root):
        return root
    files = {
        name: os.path.join(source, f"{name}-ubyte.gz")
        for name in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
    }
    missing = [path for path in files.values() if not os.path.exists(path)]
    if missing:
        raise DataError(
            f"{missing[0]} not found: install Debian's package "
            f"(apt-get install dataset-fashion-mnist) or pass its folder"
        )
    train_images, train_labels = read_idx(files["train-images-idx3"]), read_idx(files["train-labels-idx1"])
    if train_count is not None:
        keep = np.sort(np.random.default_rng(seed).permutation(len(train_labels))[:train_count])
        train_images, train_labels = train_images[keep], train_labels[keep]
    splits = {
        "train_list.txt": _write_images(root, train_images, train_labels, names="train_"),
        "val_list.txt": _write_images(
            root, read_idx(files["t10k-images-idx3"]), read_idx(files["t10k-labels-idx1"]), names="test_"
        ),
    }
    _write_lists(root, splits, FASHION_MNIST_CLASSES)
    return root


DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_digits_csv(root, size=32, count=None):
    """The digits as an image folder and `root/labels.csv` (`image,label` columns, labels as words):
    data laid out as the R-Drop article's is, for `tools/csv_to_lists.py`."""
    images, labels = digits_images(size=size, count=count)
    lines = _write_images(root, images, labels, names="digit_")
    rows = (f"{line.split()[0]},{DIGIT_NAMES[int(line.split()[1])]}\n" for line in lines)
    write_text(os.path.join(root, "labels.csv"), "image,label\n" + "".join(rows))
    return os.path.join(root, "labels.csv")
