"""`ClassBalancedSampler`: each class equally often in an epoch of the list's length, the same draw for a seed
and an epoch, each process its own share, and the sampler and `ClassWeightedCELoss` found by PaddleClas's own
builders."""

import os

import numpy as np
import pytest

from paddleclas_rdrop import ClassBalancedSampler, ClassWeightedCELoss, ConfigError

from engine_runs import NEEDS_TREE

# 100 images: 70 of class 0, 25 of class 1, 5 of class 2
LABELS = np.repeat([0, 1, 2], [70, 25, 5])


class Labelled:
    """What the sampler reads of a dataset: its length and one class id per sample."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)


def sampler(labels=LABELS, **kwargs):
    kwargs = {"batch_size": 8, "num_replicas": 1, "rank": 0, **kwargs}
    return ClassBalancedSampler(Labelled(labels), **kwargs)


def epoch(balanced):
    return [index for batch in balanced for index in batch]


def test_an_epoch_has_the_lists_length_and_every_class_a_third_of_it():
    drawn = epoch(sampler())
    counts = np.bincount(LABELS[drawn], minlength=3)
    assert len(drawn) == 100 and counts.max() - counts.min() <= 1, counts
    assert len(set(LABELS[drawn][:50])) == 3  # one random order, not class after class


def test_the_rare_class_is_drawn_with_replacement_and_the_frequent_one_in_part():
    drawn = np.asarray(epoch(sampler()))
    rare = drawn[LABELS[drawn] == 2]
    frequent = drawn[LABELS[drawn] == 0]
    assert len(rare) >= 33 and set(rare) == {95, 96, 97, 98, 99}
    assert len(set(frequent)) < 70


def test_a_seed_and_an_epoch_give_one_draw_and_a_resume_draws_it_again():
    first = sampler(seed=3)
    epoch_0 = epoch(first)
    assert epoch_0 == epoch(sampler(seed=3)) and epoch_0 != epoch(sampler(seed=4))
    epoch_1 = epoch(first)  # each iteration is the next epoch, as PaddleClas's Engine iterates
    assert epoch_1 != epoch_0
    resumed = sampler(seed=3)
    resumed.set_epoch(1)  # what PaddleClas's Engine does on a resume after epoch 1
    assert epoch(resumed) == epoch_1


@pytest.mark.parametrize("processes", [2, 3])
def test_each_process_takes_its_own_share_of_one_epoch(processes):
    shares = [epoch(sampler(num_replicas=processes, rank=rank, seed=1)) for rank in range(processes)]
    whole = sampler(num_replicas=processes, rank=0, seed=1).draw(0).tolist()
    assert sum(shares, []) == whole and len(whole) == processes * -(-100 // processes)
    assert all(len(share) == -(-100 // processes) for share in shares)
    counts = np.bincount(LABELS[whole], minlength=3)
    assert counts.max() - counts.min() <= 1


def test_batches_and_their_count_are_those_of_distributed_batch_sampler():
    for drop_last in (False, True):
        balanced = sampler(batch_size=16, drop_last=drop_last)
        batches = list(balanced)
        assert len(batches) == len(balanced) == (6 if drop_last else 7)
        assert all(len(batch) == 16 for batch in batches[:6])


def test_multi_label_targets_are_refused():
    with pytest.raises(ConfigError, match="draws classes of single-label lists"):
        sampler(labels=[[0, 1], [1, 0]])


@pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)
def test_paddleclas_builds_the_plugins_sampler_and_loss_by_name(workdir, monkeypatch):
    import logging

    import paddle

    from paddleclas_rdrop.adapter.registry import register

    register()
    from ppcls.data import build_dataloader
    from ppcls.loss import build_loss
    from ppcls.utils import logger

    ppcls_logger = logging.getLogger("ppcls")  # PaddleClas's builders log: its logger, set up for this test only
    monkeypatch.setattr(ppcls_logger, "handlers", list(ppcls_logger.handlers))
    monkeypatch.setattr(ppcls_logger, "level", ppcls_logger.level)
    monkeypatch.setattr(logger, "_logger", None)
    logger.init_logger(log_level=logging.ERROR)
    digits = str(workdir / "digits")
    section = {
        "dataset": {"name": "ImageNetDataset", "image_root": digits, "cls_label_path": f"{digits}/train_list.txt"},
        "sampler": {"name": "ClassBalancedSampler", "batch_size": 8, "drop_last": False, "seed": 2},
        "loader": {"num_workers": 0, "use_shared_memory": False},
    }
    loader = build_dataloader({"Train": section}, "Train", paddle.CPUPlace())
    assert isinstance(loader.batch_sampler, ClassBalancedSampler) and loader.batch_sampler.seed == 2
    loss = build_loss([{"ClassWeightedCELoss": {"weight": 1.0, "class_weights": [1.0] * 10}}])
    assert isinstance(loss.loss_func[0], ClassWeightedCELoss)
