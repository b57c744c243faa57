"""The rule of imbalanced classes the tools share (`paddleclas_rdrop/tools/data/class_balance.py`), and the warning
csv_to_lists.py gives for an imbalanced CSV: the ratio, the majority-class accuracy and the options, and none for a
balanced one."""

import os
import subprocess
import sys

from PIL import Image

from paddleclas_rdrop.tools.data.class_balance import imbalance, imbalance_warning
from paddleclas_rdrop.tools.data.demo import digits_images

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "csv_to_lists.py")


def test_a_list_is_imbalanced_above_one_and_a_half_times():
    assert imbalance({0: 15, 1: 10}) is None  # 1.5x exactly: balanced enough
    assert imbalance({0: 16, 1: 10}) == 1.6
    assert imbalance({0: 3, 1: 9, 2: 0}) == 3.0  # a class without images is not the smallest
    assert imbalance({0: 40}) is None and imbalance({}) is None
    line = imbalance_warning({0: 7, 1: 3}, {0: "functional", 1: "defective"})
    assert line.startswith("warning: the classes of the CSV are imbalanced: class 0 (functional) has 7 images, 2.3x ")
    assert "scores 70.0 % top-1 (the majority-class accuracy)" in line
    assert "ClassWeightedCELoss" in line and "ClassBalancedSampler" in line and "Imbalanced classes" in line
    assert imbalance_warning({0: 5, 1: 5}) is None


def write_csv(folder, counts):
    """A CSV of digits with `counts` ({label name: images}) and its image folder."""
    images, _ = digits_images(size=8, count=sum(counts.values()))
    (folder / "images").mkdir()
    rows, index = ["image,label"], 0
    for name, count in counts.items():
        for _ in range(count):
            Image.fromarray(images[index]).save(folder / "images" / f"{index}.png")
            rows.append(f"{index}.png,{name}")
            index += 1
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


def csv_to_lists(folder, out):
    command = [sys.executable, TOOL, "--csv", str(folder / "labels.csv"), "--image-root", str(folder / "images")]
    return subprocess.run(command + ["--out", str(folder / out)], capture_output=True, text=True, timeout=120)


def test_csv_to_lists_warns_of_an_imbalanced_csv_with_the_majority_accuracy_and_the_options(tmp_path):
    write_csv(tmp_path, {"functional": 14, "defective": 6})
    result = csv_to_lists(tmp_path, "lists")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: the classes of the CSV are imbalanced: class 1 (functional) has 14 images, 2.3x class 0 "
        "(defective)'s 6; a model that always answers 1 (functional) scores 70.0 % top-1 (the majority-class "
        "accuracy), so read each class's recall and the balanced accuracy, which eval.py and predict.py --eval-list "
        "print. To train against it: the Loss.Train entry ClassWeightedCELoss (class-weighted cross-entropy) or "
        'DataLoader.Train.sampler.name=ClassBalancedSampler (docs/reference.md, "Imbalanced classes")'
    ]
    (tmp_path / "labels.csv").write_text("image,label\n" + "".join(f"{i}.png,{i % 2}\n" for i in range(20)))
    balanced = csv_to_lists(tmp_path, "balanced")
    assert balanced.returncode == 0 and "warning" not in balanced.stderr, balanced.stderr
