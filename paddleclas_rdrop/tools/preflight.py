"""The checks the tools run on a config before an engine writes anything: the device, the list files, that
a training run has something to train, and PaddleClas's whole warm-up epochs. Each raises `ConfigError`
(or the lists' `DataError`) with the key and the fix."""

import os

from ..adapter.sections import section_of
from ..core.errors import ConfigError
from .data.lists import RA_MULTIPLE


def check_device(config):
    """`Global.device: gpu` on a Paddle build without CUDA is refused."""
    import paddle

    device = section_of(config, "Global").get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)"
        )


def check_lists(config, mode):
    """The list files the run reads: lines, images, label range and what a multi-label config's losses and metrics
    can take of them (`data.multilabel_checks`); the standalone engine checks them itself when it builds its
    data loaders; PaddleClas's writes its log first."""
    from .data.lists import check_label_range, dataset_lists, read_list_file
    from .data.multilabel_checks import check_multilabel

    global_section = section_of(config, "Global")
    class_num = section_of(config, "Arch").get("class_num", global_section.get("class_num"))
    evaluates = mode == "eval" or (mode == "train" and global_section.get("eval_during_train", True))
    splits = (["Train"] if mode == "train" else []) + (["Eval"] if evaluates else [])
    read = {}
    for split in splits:
        for image_root, list_path, *form in dataset_lists(config, [split]):
            _, labels, numbers = read_list_file(image_root, list_path, *form)
            check_label_range(labels, class_num, list_path, numbers, train=read.get("Train"))
            read[split] = (list_path, labels)
    check_multilabel(config, read)


def check_something_to_train(config, batches):
    """Refuse, before anything is written, a training run that would train nothing: no batch per epoch
    (`check_batches`, of `batches`: `data.lists.train_batches`) or a resume from a checkpoint that already has
    `Global.epochs` epochs (`check_epochs_left`)."""
    check_batches(config, batches)
    check_epochs_left(config, batches)


def check_batches(config, batches):
    """At least one batch per epoch (`batches`: `data.lists.train_batches`; None, or steps of None: not
    counted here)."""
    if batches is None or batches["steps_per_epoch"] is None or batches["steps_per_epoch"] > 0:
        return
    images, processes, per_process = batches["images"], batches["processes"], batches["samples_per_process"]
    list_path = section_of(config, "DataLoader", "Train", "dataset").get("cls_label_path")
    over = f" over {processes} processes" if processes > 1 else ""
    if per_process == 0:  # RASampler, under 256 images
        raise ConfigError(
            f"DataLoader.Train.sampler: RASampler takes a multiple of {RA_MULTIPLE} images an epoch, so the "
            f"{images} images of {list_path}{over} give no batch and nothing would be trained: set "
            f"-o DataLoader.Train.sampler.name=DistributedBatchSampler, or list at least {RA_MULTIPLE} images"
        )
    each = f", {per_process} on each," if per_process != images else ""
    raise ConfigError(
        f"DataLoader.Train: {images} images ({list_path}){over}{each} in batches of {batches['batch_size']} with "
        f"drop_last True give no batch per epoch, so nothing would be trained: set "
        f"-o DataLoader.Train.sampler.batch_size={per_process} (or less), or "
        f"-o DataLoader.Train.sampler.drop_last=False"
    )


def check_epochs_left(config, batches=None):
    """A resume (`Global.checkpoints`) from a checkpoint with epochs left to train, of this run's schedule
    (`check_resume`). Only reads: where nothing is left it raises `NothingLeftToTrain` (a `ConfigError`
    carrying the checkpoint, its epochs, `Global.epochs` and `Global.output_dir`), whose repair step
    (`outputs.repair_latest`) the tools' `main` runs before the refusal is printed."""
    from .runs.checkpoint_files import load_part, resume_parts
    from .runs.checkpoints import NothingLeftToTrain, check_resume

    global_section = section_of(config, "Global")
    checkpoint, epochs = global_section.get("checkpoints"), global_section.get("epochs")
    if not (checkpoint and os.path.exists(f"{checkpoint}.pdstates") and isinstance(epochs, int)):
        return
    parts = resume_parts(config)
    done = int(load_part("Global.checkpoints", checkpoint, ".pdstates", parts).get("epoch", 0))
    if done >= epochs:
        raise NothingLeftToTrain(checkpoint, done, epochs, global_section.get("output_dir"))
    check_resume(checkpoint, config, batches)


def check_warmup_epochs(config):
    """PaddleClas's learning-rate schedules take `warmup_epoch` as whole epochs (its Cosine fails with a
    TypeError on a fraction); the standalone engine takes fractions. Raises `ConfigError` for a fraction."""
    from ..adapter.sections import optimizer_entries

    for path, entry in optimizer_entries(config):
        warmup = section_of(entry, "lr").get("warmup_epoch")
        if isinstance(warmup, float) and not warmup.is_integer():
            key = f"{path}.lr.warmup_epoch"
            raise ConfigError(
                f"{key} is {warmup}, but PaddleClas's Engine takes whole epochs: set -o {key}="
                f"{max(1, round(warmup))}, or run the standalone engine (no PADDLECLAS_ROOT), which takes fractions"
            )
