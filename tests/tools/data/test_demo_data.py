import gzip
import os

import numpy as np
import pytest
from PIL import Image

from paddleclas_rdrop.core.errors import DataError
from paddleclas_rdrop.tools.data.demo import (
    FASHION_MNIST_DIR,
    read_idx,
    write_digits_dataset,
    write_fashion_mnist_dataset,
)

from engine_runs import dataset_overrides


def read_list(path):
    return [line.split() for line in open(path).read().splitlines()]


def test_digits_are_written_as_a_paddleclas_dataset_on_a_fixed_split(tmp_path):
    root = str(tmp_path / "digits")
    write_digits_dataset(root, size=32, count=50)
    train, val = read_list(f"{root}/train_list.txt"), read_list(f"{root}/val_list.txt")
    assert len(train) == 40 and len(val) == 10
    assert not {name for name, _ in train} & {name for name, _ in val}
    image = Image.open(os.path.join(root, train[0][0]))
    assert image.size == (32, 32) and image.mode == "RGB"
    assert len(read_list(f"{root}/label_list.txt")) == 10
    again = str(tmp_path / "again")
    write_digits_dataset(again, size=32, count=50)
    assert read_list(f"{again}/val_list.txt") == val  # the split is seeded
    overrides = dataset_overrides(root, size=32)
    assert f"Infer.infer_imgs={root}/{val[0][0]}" in overrides and "Arch.class_num=10" in overrides
    (tmp_path / "again" / "label_list.txt").unlink()  # a writing stopped before its last list
    (tmp_path / "again" / "val_list.txt").write_text("")
    write_digits_dataset(again, size=32, count=50)
    assert read_list(f"{again}/val_list.txt") == val and len(read_list(f"{again}/label_list.txt")) == 10


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_are_read_and_written_with_the_official_split(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = (digits.images * 16).astype(np.uint8), digits.target.astype(np.uint8)
    source = tmp_path / "idx"
    source.mkdir()
    write_idx(source / "train-images-idx3-ubyte.gz", images[:100])
    write_idx(source / "train-labels-idx1-ubyte.gz", labels[:100])
    write_idx(source / "t10k-images-idx3-ubyte.gz", images[100:130])
    write_idx(source / "t10k-labels-idx1-ubyte.gz", labels[100:130])
    np.testing.assert_array_equal(read_idx(str(source / "train-images-idx3-ubyte.gz")), images[:100])
    root = str(tmp_path / "fm")
    write_fashion_mnist_dataset(root, train_count=20, source=str(source))
    train, val = read_list(f"{root}/train_list.txt"), read_list(f"{root}/val_list.txt")
    assert len(train) == 20 and len(val) == 30
    assert [int(label) for _, label in val] == labels[100:130].tolist()
    first = np.asarray(Image.open(os.path.join(root, val[0][0])))
    np.testing.assert_array_equal(first[:, :, 0], images[100])


@pytest.mark.skipif(
    not os.path.isdir(FASHION_MNIST_DIR),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_the_real_fashion_mnist_files_parse():
    labels = read_idx(os.path.join(FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
    images = read_idx(os.path.join(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert np.bincount(labels).tolist() == [1000] * 10


def test_a_missing_source_names_the_debian_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        write_fashion_mnist_dataset(str(tmp_path / "fm"), source=str(tmp_path))
