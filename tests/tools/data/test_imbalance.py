"""The keys for imbalanced classes settled before an engine is built: `class_weights: balanced` from the train
list's class counts, and `ClassBalancedSampler`'s seed from `Global.seed`."""

import numpy as np
import pytest

from paddleclas_rdrop.core.errors import DataError
from paddleclas_rdrop.tools.data.imbalance import balanced_weights, settle_imbalance


def config_for(tmp_path, labels, class_num, seed=None):
    """A config whose train list holds `labels` (images are not read) and both keys set."""
    (tmp_path / "train.txt").write_text("".join(f"{i}.png {label}\n" for i, label in enumerate(labels)))
    entry = {"ClassWeightedCELoss": {"weight": 1.0, "class_weights": "balanced", "epsilon": 0.1}}
    sampler = {"name": "ClassBalancedSampler", "batch_size": 2}
    dataset = {"name": "ImageNetDataset", "image_root": str(tmp_path), "cls_label_path": str(tmp_path / "train.txt")}
    return {
        "Global": {} if seed is None else {"seed": seed},
        "Arch": {"name": "ResNet18", "class_num": class_num},
        "Loss": {"Train": [entry, {"RDropLoss": {"weight": 1.0}}], "Eval": [{"CELoss": {"weight": 1.0}}]},
        "DataLoader": {"Train": {"dataset": dataset, "sampler": sampler}},
    }


def test_balanced_is_the_images_over_the_classes_times_each_class_count(tmp_path):
    config = config_for(tmp_path, [0, 0, 0, 0, 0, 0, 1, 1, 2], class_num=3, seed=7)
    settle_imbalance(config, "train")
    weights = config["Loss"]["Train"][0]["ClassWeightedCELoss"]["class_weights"]
    np.testing.assert_allclose(weights, [9 / (3 * 6), 9 / (3 * 2), 9 / (3 * 1)])
    assert config["DataLoader"]["Train"]["sampler"]["seed"] == 7


def test_without_a_run_seed_the_sampler_draws_with_seed_0_and_other_tools_leave_balanced(tmp_path):
    config = config_for(tmp_path, [0, 1], class_num=2)
    settle_imbalance(config, "export")  # builds no loss: the train list is not read
    assert config["Loss"]["Train"][0]["ClassWeightedCELoss"]["class_weights"] == "balanced"
    assert config["DataLoader"]["Train"]["sampler"]["seed"] == 0


def test_a_class_without_a_train_image_has_no_balanced_weight():
    with pytest.raises(DataError, match="has none of class 1 .of 3, Arch.class_num.: give class_weights as a list"):
        balanced_weights(np.array([0, 2, 2]), 3, list_path="train.txt")
