import os
import subprocess
import sys

import pytest
from PIL import Image

from paddleclas_rdrop.core.errors import ConfigError, DataError
from paddleclas_rdrop.tools.data.csv_lists import write_lists
from paddleclas_rdrop.tools.data.demo import digits_images
from paddleclas_rdrop.tools.data.overrides import small_data_overrides

NAMES = ["zero", "one", "two"]


@pytest.fixture
def folder(tmp_path):
    """60 digit images (classes 0-2) and a CSV of them, the article's layout."""
    images, labels = digits_images(size=16, count=200)
    keep = [i for i, label in enumerate(labels) if label < 3][:60]
    root = tmp_path / "images"
    root.mkdir()
    rows = ["image,label"]
    for i in keep:
        Image.fromarray(images[i]).save(root / f"d{i}.png")
        rows.append(f"d{i}.png,{labels[i]}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def read(path):
    return [line.split() for line in open(path).read().splitlines()]


def test_a_seeded_stratified_split_with_every_image_once(folder):
    counts = write_lists(
        str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"), val_ratio=0.1, seed=3
    )
    train, val = read(folder / "lists" / "train_list.txt"), read(folder / "lists" / "val_list.txt")
    assert len(train) + len(val) == 60
    assert not {p for p, _ in train} & {p for p, _ in val}
    assert all(counts["val"][c] >= 1 for c in range(3))
    for class_id in range(3):
        total = counts["train"][class_id] + counts["val"][class_id]
        assert abs(counts["val"][class_id] - round(total * 0.1)) <= 1
    assert all(os.path.exists(folder / "images" / p) for p, _ in train + val)
    write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "again"), 0.1, seed=3)
    assert read(folder / "again" / "val_list.txt") == val


def test_string_labels_get_ids_and_a_label_map(folder):
    csv = (folder / "train.csv").read_text().splitlines()
    named = [csv[0]] + [f"{line.split(',')[0]},{NAMES[int(line.split(',')[1])]}" for line in csv[1:]]
    (folder / "named.csv").write_text("\n".join(named) + "\n")
    counts = write_lists(str(folder / "named.csv"), str(folder / "images"), str(folder / "lists"))
    assert counts["named"]
    assert read(folder / "lists" / "label_list.txt") == [["0", "one"], ["1", "two"], ["2", "zero"]]


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("missing.png,1", "train.csv:62: image .*missing.png cannot be opened"),
        ("not_an_image.png,1", "train.csv:62: image .*not_an_image.png cannot be opened"),
        ("with space.png,1", "train.csv:62: image path 'with space.png' has a space"),
        ("d0.png,", "train.csv:62: empty image or label"),
    ],
)
def test_bad_rows_are_named_by_line(folder, bad_row, message):
    (folder / "images" / "not_an_image.png").write_text("not a png")
    with open(folder / "train.csv", "a") as handle:
        handle.write(bad_row + "\n")
    with pytest.raises(DataError, match=message):
        write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"))
    assert not (folder / "lists").exists()


def test_existing_lists_are_not_overwritten_unless_asked(folder):
    out = folder / "lists"
    write_lists(str(folder / "train.csv"), str(folder / "images"), str(out))
    (out / "train_list.txt").write_text("mine\n")
    with pytest.raises(ConfigError, match="exists: pass --force"):
        write_lists(str(folder / "train.csv"), str(folder / "images"), str(out))
    assert (out / "train_list.txt").read_text() == "mine\n"
    write_lists(str(folder / "train.csv"), str(folder / "images"), str(out), force=True)
    assert (out / "train_list.txt").read_text() != "mine\n"


@pytest.mark.parametrize(
    "images, batch, lr, warmup, epochs, mixup_off",
    [
        (60, 16, 0.025, 5, 50, True),  # 4 steps per epoch
        (1000, 64, 0.1, 1, 13, True),  # 16 steps per epoch
        (20000, 64, 0.1, 1, 10, False),  # at least 10 epochs; Mixup kept from 5000 images on
    ],
)
def test_the_small_data_schedule_scales_batch_lr_warm_up_and_epochs_with_the_images(
    images, batch, lr, warmup, epochs, mixup_off
):
    keys = dict(key.split("=", 1) for key in small_data_overrides(images))
    assert int(keys["DataLoader.Train.sampler.batch_size"]) == batch
    assert float(keys["Optimizer.lr.learning_rate"]) == pytest.approx(lr)  # 0.05 per 32 images
    assert int(keys["Optimizer.lr.warmup_epoch"]) == warmup
    assert int(keys["Global.epochs"]) == epochs
    assert ("DataLoader.Train.dataset.batch_transform_ops" in keys) == mixup_off
    assert keys["Optimizer.clip_norm"] == "1.0" and keys["Global.keep_checkpoint_max"] == "2"


def named_csv(folder):
    """The fixture's CSV with string labels (NAMES) in a header of another case, saved with a BOM."""
    rows = (folder / "train.csv").read_text().splitlines()
    lines = ["Image,Label"] + [f"{p},{NAMES[int(label)]}" for p, label in (row.split(",") for row in rows[1:])]
    path = folder / "named.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())
    return path


def test_a_header_of_another_case_names_the_column_flags(folder):
    with pytest.raises(
        DataError, match="no column 'image' .*: name yours with --image-column, e.g. --image-column Image"
    ):
        write_lists(str(named_csv(folder)), str(folder / "images"), str(folder / "lists"))
    counts = write_lists(
        str(named_csv(folder)),
        str(folder / "images"),
        str(folder / "lists"),
        image_column="Image",
        label_column="Label",
    )
    assert counts["named"] and counts["classes"] == 3  # the BOM and the CRLF endings are read


@pytest.mark.parametrize(
    "header, flags, suggested",
    [
        ("file,condition", {"image_column": "file", "label_column": "conditon"}, "--label-column condition"),
        ("file,condition", {"label_column": "condition"}, "--image-column file"),  # no close name: the free one
        ("image,Label ", {"label_column": "lable"}, "--label-column Label "),
    ],
)
def test_a_misspelt_column_is_offered_the_headers_closest_name(tmp_path, header, flags, suggested):
    (tmp_path / "rows.csv").write_text(f"{header}\n")
    with pytest.raises(DataError, match=f"name yours with {suggested.split()[0]}, e.g. {suggested}$"):
        write_lists(str(tmp_path / "rows.csv"), str(tmp_path), str(tmp_path / "lists"), **flags)


def test_a_test_csv_is_numbered_by_the_training_label_list(folder):
    from paddleclas_rdrop.tools.data.csv_lists import write_test_list

    csv = str(named_csv(folder))
    write_lists(csv, str(folder / "images"), str(folder / "lists"), image_column="Image", label_column="Label")
    label_list = str(folder / "lists" / "label_list.txt")
    test = folder / "test.csv"
    test.write_text(
        "image,label\n" + "".join(f"{row.split(',')[0]},two\n" for row in open(csv).read().splitlines()[1:4])
    )
    counts = write_test_list(str(test), str(folder / "images"), label_list, str(folder / "test_lists"))
    ids = {name: int(i) for i, name in read(label_list)}
    assert {label for _, label in read(folder / "test_lists" / "test_list.txt")} == {str(ids["two"])}
    assert counts == {ids["two"]: 3}
    test.write_text("image,label\n" + test.read_text().splitlines()[1].split(",")[0] + ",three\n")
    with pytest.raises(DataError, match=f"{test}:2: class 'three' is not among the 3 classes of {label_list}"):
        write_test_list(str(test), str(folder / "images"), label_list, str(folder / "other"))
    with pytest.raises(ConfigError, match="test_list.txt exists: pass --force"):
        write_test_list(str(test), str(folder / "images"), label_list, str(folder / "test_lists"))


def test_no_val_split_gives_overrides_that_train_without_eval(folder):
    from paddleclas_rdrop.tools.data.overrides import data_overrides

    write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"), val_ratio=0)
    keys = data_overrides(str(folder / "lists"), str(folder / "images"))
    assert "Global.eval_during_train=False" in keys
    first_train = read(folder / "lists" / "train_list.txt")[0][0]
    assert f"Infer.infer_imgs={folder / 'images'}/{first_train}" in keys


def test_an_image_listed_twice_with_two_labels_is_refused_with_both_lines(folder):
    with open(folder / "train.csv", "a") as handle:
        handle.write("./d0.png,2\n")  # line 62: d0.png is line 2's, another form of its path
    first = (folder / "train.csv").read_text().splitlines()[1]
    assert first.startswith("d0.png,") and not first.endswith(",2")
    with pytest.raises(DataError) as refused:
        write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"))
    message = str(refused.value)
    assert "train.csv:62: image ./d0.png is listed with label '2', but line 2 lists it with label" in message
    assert "keep the row with its right label and remove the other" in message and "\n" not in message
    assert not (folder / "lists").exists()
    tool = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "csv_to_lists.py")
    result = subprocess.run(
        [sys.executable, tool, "--csv", str(folder / "train.csv"), "--image-root", str(folder / "images")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1 and result.stderr == f"error: {message}\n", result.stderr
    assert not any(name.endswith(".txt") for name in os.listdir(folder / "images"))  # no list written


def test_an_image_listed_twice_with_one_label_is_written_once_with_a_warning(folder, capsys):
    label = (folder / "train.csv").read_text().splitlines()[1].split(",")[1]
    with open(folder / "train.csv", "a") as handle:
        handle.write(f"./d0.png,{label}\n.//d0.png,{label}\n")
    write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"), val_ratio=0.1, seed=3)
    listed = [path for path, _ in read(folder / "lists" / "train_list.txt") + read(folder / "lists" / "val_list.txt")]
    assert len(listed) == 60 and sum(os.path.normpath(path) == "d0.png" for path in listed) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "2 row(s)" in warnings[0] and "lines 62, 63" in warnings[0], warnings


TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "csv_to_lists.py")


def csv_tool(folder, *flags):
    """tools/csv_to_lists.py on `folder`'s CSV and images, with `flags`."""
    command = [sys.executable, TOOL, "--csv", str(folder / "train.csv"), "--image-root", str(folder / "images")]
    return subprocess.run([*command, *flags], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("spelling", ["absolute", "symlink", "hard link"])
def test_every_spelling_of_one_file_is_one_image(folder, spelling):
    first = (folder / "train.csv").read_text().splitlines()[1]
    name, label = first.split(",")
    if spelling == "absolute":
        other = str(folder / "images" / name)
    else:
        other = "other.png"
        (os.symlink if spelling == "symlink" else os.link)(folder / "images" / name, folder / "images" / other)
    with open(folder / "train.csv", "a") as handle:
        handle.write(f"{other},{label}\n")  # line 62: the file of line 2 again
    write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "lists"), val_ratio=0.5)
    listed = [path for path, _ in read(folder / "lists" / "train_list.txt") + read(folder / "lists" / "val_list.txt")]
    assert len(listed) == 60 and other not in listed  # in train or val, never both
    with open(folder / "train.csv", "a") as handle:
        handle.write(f"{other},{(int(label) + 1) % 3}\n")  # line 63: that file with another label
    with pytest.raises(DataError, match=f"train.csv:63: image {other} is listed with label .*, but line 2 lists it"):
        write_lists(str(folder / "train.csv"), str(folder / "images"), str(folder / "other"))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--size", "-5"], "error: --size -5: the image side in pixels must be 1 or more, e.g. --size 224"),
        (["--size", "0"], "error: --size 0: the image side in pixels must be 1 or more"),
        (["--seed", "-1"], "error: --seed -1: the split's seed must be 0 or more, e.g. --seed 0"),
        (["--val-ratio", "nan"], "error: --val-ratio nan: the share of each class for val must be in [0, 1)"),
    ],
)
def test_a_numeric_flag_out_of_range_is_one_line_and_nothing_is_written(folder, flags, message):
    result = csv_tool(folder, "--out", str(folder / "lists"), *flags)
    assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and not (folder / "lists").exists()


def test_an_out_that_is_a_file_is_one_line_and_a_missing_one_is_made(folder):
    (folder / "taken").write_text("a file\n")
    result = csv_tool(folder, "--out", str(folder / "taken"))
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"error: --out {folder / 'taken'}: a file is there, not a folder (File exists): give a path elsewhere, "
        "or move that file away\n"
    )
    assert (folder / "taken").read_text() == "a file\n"
    made = csv_tool(folder, "--out", str(folder / "new" / "lists"))
    assert made.returncode == 0 and (folder / "new" / "lists" / "overrides.txt").exists(), made.stderr
