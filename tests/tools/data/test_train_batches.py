"""`lists.train_batches` counts an epoch's steps as the engine's own sampler does: for any list size, batch size,
`drop_last`, number of processes and sampler, its `steps_per_epoch` is the `len` of the batch sampler (or data
loader) each engine builds: paddle's `DistributedBatchSampler` (the standalone engine's for every sampler but
ClassBalancedSampler), the plugin's `ClassBalancedSampler`, and under PaddleClas's Engine (`ppcls/data/__init__.py`:
`build_dataloader`) paddle's `BatchSampler`, a plain `DataLoader` for a section without a name, and PaddleClas's
`RASampler` (read from the source tree)."""

import importlib.util
import os
import tempfile

import paddle
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.adapter.balanced_sampler import ClassBalancedSampler
from paddleclas_rdrop.tools.data.lists import train_batches

TREE = os.environ.get("PADDLECLAS_ROOT", "")


class Listed(paddle.io.Dataset):
    """`images` samples with labels 0, 1, 2, ...: all a sampler reads of a dataset (its `len`, its `labels`)."""

    def __init__(self, images):
        super().__init__()
        self.labels = [index % 3 for index in range(images)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return index


def ra_sampler():
    """PaddleClas's `RASampler` class, from its file in the source tree (its module imports paddle alone)."""
    path = os.path.join(TREE, "ppcls", "data", "dataloader", "ra_sampler.py")
    spec = importlib.util.spec_from_file_location("ra_sampler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RASampler


def built_len(engine, name, images, batch_size, drop_last, processes):
    """The steps of an epoch on rank 0 of `processes`, as `engine` builds the sampler `name`."""
    dataset = Listed(images)
    split = {"batch_size": batch_size, "drop_last": drop_last, "num_replicas": processes, "rank": 0}
    if name == "ClassBalancedSampler":
        return len(ClassBalancedSampler(dataset, **split))
    if name == "RASampler":
        return len(ra_sampler()(dataset, **split))
    if engine == "paddleclas" and name is None:
        return len(paddle.io.DataLoader(dataset, batch_size=batch_size, drop_last=drop_last))
    if engine == "paddleclas" and name == "BatchSampler":
        return len(paddle.io.BatchSampler(dataset, batch_size=batch_size, drop_last=drop_last))
    return len(paddle.io.DistributedBatchSampler(dataset, **split))


def counted(engine, name, images, batch_size, drop_last, processes):
    """`train_batches` of a config whose train list has `images` lines."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "train_list.txt")
        with open(path, "w") as handle:
            handle.writelines(f"{index}.png {index % 3}\n" for index in range(images))
        sampler = {"batch_size": batch_size, "drop_last": drop_last, **({"name": name} if name else {})}
        dataset = {"name": "ImageNetDataset", "image_root": folder, "cls_label_path": path}
        config = {"DataLoader": {"Train": {"dataset": dataset, "sampler": sampler}}}
        return train_batches(config, processes, engine)


SAMPLERS = [None, "DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler"] + (["RASampler"] if TREE else [])


@settings(max_examples=150, deadline=None)
@given(
    engine=st.sampled_from(["standalone", "paddleclas"]),
    name=st.sampled_from(SAMPLERS),
    images=st.integers(1, 700),
    batch_size=st.integers(1, 300),
    drop_last=st.booleans(),
    processes=st.integers(1, 4),
)
def test_the_steps_of_an_epoch_are_the_len_of_the_sampler_the_engine_builds(
    engine, name, images, batch_size, drop_last, processes
):
    if engine == "standalone" and name == "RASampler":
        name = "DistributedBatchSampler"  # the standalone engine refuses RASampler when it builds its loaders
    batches = counted(engine, name, images, batch_size, drop_last, processes)
    assert batches["steps_per_epoch"] == built_len(engine, name, images, batch_size, drop_last, processes)
    assert batches["images"] == images and batches["sampler"] == (name or "DistributedBatchSampler")


def test_a_sampler_whose_epoch_is_not_counted_here_keeps_what_makes_it():
    batches = counted("paddleclas", "PKSampler", 40, 8, True, 2)
    assert batches["steps_per_epoch"] is None and batches["samples_per_process"] is None
    assert (batches["images"], batches["batch_size"], batches["processes"], batches["drop_last"]) == (40, 8, 2, True)
