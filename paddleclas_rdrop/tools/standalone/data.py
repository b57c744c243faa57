"""PaddleClas's ImageNetDataset (`relative/path label` list files) and MultiLabelDataset
(`relative/path<TAB>0,1,...`) layouts, and the batch ops."""

import cv2
import numpy as np
import paddle
from paddleclas.deploy.python.preprocess import create_operators

from ...adapter.balanced_sampler import ClassBalancedSampler
from ...core.errors import ConfigError, DataError, one_line
from ..data.lists import LIST_FORMATS, check_label_range, image_error, read_list_file
from .keys import arguments, single_entry, take

TRANSFORMS = (
    "DecodeImage",
    "ResizeImage",
    "RandCropImage",
    "CropImage",
    "RandFlipImage",
    "NormalizeImage",
    "ToCHWImage",
)


def build_transforms(ops, path):
    """PaddleClas's image operators, built by the wheel's `create_operators` (as Infer's are); an
    operator it does not know, or a wrong parameter, is an error naming the entry."""
    built = []
    for index, entry in enumerate(ops or []):
        name, params = single_entry(entry, f"{path}.{index}")
        if name not in TRANSFORMS:
            raise ConfigError(
                f"{path}.{index}: {name} is not supported by the standalone engine (it knows {list(TRANSFORMS)}): "
                f"run with a PaddleClas source tree (PADDLECLAS_ROOT), whose Engine has it, or leave it out of the list"
            )
        try:
            built += create_operators([{name: params}])
        except TypeError as error:
            raise ConfigError(f"{path}.{index}.{name}: {error}") from None
    return built


class ImageListDataset(paddle.io.Dataset):
    """PaddleClas's ImageNetDataset (`relative/path label`: an int64 label) or, with `multilabel`, its
    MultiLabelDataset (`relative/path<TAB>0,1,...`: float32 targets ``[L]``, -1 for a label left out; with
    `label_ratio`, ``[2, L]``: the targets and the list's per-label mean target, as
    `ppcls/data/dataloader/multilabel_dataset.py` gives them). Decoded by the transforms, then HWC -> CHW
    as PaddleClas does. A bad list line or image is a `DataError` naming the file and line."""

    def __init__(
        self, image_root, cls_label_path, transform_ops=None, delimiter=None, path="dataset", multilabel=False,
        label_ratio=False,
    ):  # fmt: skip
        delimiter = "\t" if multilabel else delimiter or " "  # MultiLabelDataset splits at a tab
        self.images, self.labels, self.line_numbers = read_list_file(image_root, cls_label_path, delimiter, multilabel)
        if multilabel:
            self.labels = self.labels.astype(np.float32)
        # MultiLabelDataset._load_anno: np.array(labels).mean(0), -1 targets included
        self.label_ratio = self.labels.mean(0).astype(np.float32) if multilabel and label_ratio else None
        self.list_path = cls_label_path
        self._transform_ops = build_transforms(transform_ops, f"{path}.transform_ops")  # PaddleClas's name
        names = [single_entry(entry, path)[0] for entry in transform_ops or []]
        self.transform_keys = [(f"{path}.transform_ops.{index}.{name}", name) for index, name in enumerate(names)]
        self.transforms_key = f"{path}.transform_ops"

    def read(self, index):
        """(CHW image, label) of line `index`; a `DataError` naming list file and line if it cannot be read
        (`image_error`), or naming the transform that fails on an image that decodes (`transform_error`)."""
        try:
            with open(self.images[index], "rb") as handle:
                image = handle.read()
        except OSError as error:
            raise image_error(self.list_path, self.line_numbers[index], self.images[index], error) from None
        data = image
        for position, transform in enumerate(self._transform_ops):
            try:
                image = transform(image)
            except Exception as error:  # the headers of a long list were only sampled at start-up
                raise self.transform_error(index, position, transform, data, error) from None
        label = self.labels[index]
        if self.label_ratio is not None:
            label = np.stack([label, self.label_ratio])
        return image.transpose((2, 0, 1)), label

    def transform_error(self, index, position, transform, data, error):
        """The `DataError` of the transform at `position` that raised `error` on line `index`'s image (its bytes
        `data`): the image's (`image_error`) where cv2 does not decode it, as PaddleClas's `DecodeImage`; else
        the transform's, named by its key where the list is the config's (not wrapped: `adapter.views`)."""
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
        number, path = self.line_numbers[index], self.images[index]
        if decoded is None:
            return image_error(self.list_path, number, path, error)
        keys = self.transform_keys
        aligned = len(keys) == len(self._transform_ops) and type(transform).__name__ == keys[position][1]
        key = keys[position][0] if aligned else f"{self.transforms_key} ({type(transform).__name__})"
        return DataError(
            f"{key} failed on image {path} ({self.list_path}:{number}), which decodes: {one_line(error)}; fix its "
            "settings in the config, or the image if the others pass"
        )

    def __getitem__(self, index):
        """`read`, except that a `DataError` becomes a `(None, message)` sample: Paddle's DataLoader runs
        this in a reader thread or worker process, where a raised error never reaches the main process
        (with no worker the main process waits for ever); `Collate` turns it into an error batch, which
        `CheckedLoader` raises in the main process."""
        try:
            return self.read(index)
        except DataError as error:
            return None, str(error)

    def __len__(self):
        return len(self.images)


class MixupOperator:
    """Mixup (Zhang et al. 2018): one Beta(alpha, alpha) mix per batch, soft labels [B, class_num]."""

    def __init__(self, class_num, alpha=1.0):
        self.class_num, self.alpha = class_num, alpha

    def __call__(self, images, labels):
        ratio = np.random.beta(self.alpha, self.alpha)
        order = np.random.permutation(len(images))
        targets = np.eye(self.class_num, dtype=np.float32)[labels]
        mixed = ratio * images + (1 - ratio) * images[order]
        return mixed.astype(np.float32), (ratio * targets + (1 - ratio) * targets[order]).astype(np.float32)


class CutmixOperator(MixupOperator):
    """CutMix (Yun et al. 2019): a box of the permuted batch pasted in; labels mixed by box area."""

    def __call__(self, images, labels):
        ratio = np.random.beta(self.alpha, self.alpha)
        order = np.random.permutation(len(images))
        height, width = images.shape[2:]
        cut = np.sqrt(1 - ratio)
        box_h, box_w = int(height * cut), int(width * cut)
        cy, cx = np.random.randint(height), np.random.randint(width)
        top, bottom = np.clip([cy - box_h // 2, cy + box_h // 2], 0, height)
        left, right = np.clip([cx - box_w // 2, cx + box_w // 2], 0, width)
        images = images.copy()
        images[:, :, top:bottom, left:right] = images[order, :, top:bottom, left:right]
        ratio = 1 - (bottom - top) * (right - left) / float(height * width)
        targets = np.eye(self.class_num, dtype=np.float32)[labels]
        return images.astype(np.float32), (ratio * targets + (1 - ratio) * targets[order]).astype(np.float32)


BATCH_OPS = {"MixupOperator": MixupOperator, "CutmixOperator": CutmixOperator}


class Collate:
    """Stack a batch: images float32 ``[B, C, H, W]``, labels int64 ``[B, 1]`` or, multi-label, float32
    ``[B, L]`` (``[B, 2, L]`` with `label_ratio`); with batch ops, one of them (chosen at random, as
    PaddleClas does) mixes it."""

    def __init__(self, batch_ops, multilabel=False):
        self.batch_ops, self.multilabel = batch_ops, multilabel

    def __call__(self, batch):
        failed = next((message for image, message in batch if image is None), None)
        if failed is not None:  # an error batch: no image, the message as bytes
            return np.zeros([1], dtype=np.float32), np.frombuffer(failed.encode(), dtype=np.uint8).copy()
        images = np.stack([image for image, _ in batch]).astype(np.float32)
        if self.multilabel:
            return images, np.stack([label for _, label in batch]).astype(np.float32)
        labels = np.asarray([label for _, label in batch], dtype=np.int64)
        if self.batch_ops:
            op = self.batch_ops[np.random.randint(len(self.batch_ops))]
            return op(images, labels)
        return images, labels[:, None]


class CheckedLoader:
    """A `paddle.io.DataLoader` whose batches are checked in the main process: an error batch of
    `Collate` (a sample that could not be read, in a reader thread or a worker) is raised here as its
    `DataError`, within a batch of it being read. Everything else is the loader's."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for images, labels in self.loader:
            if images.ndim == 1:
                raise DataError(labels.numpy().tobytes().decode())
            yield images, labels

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):  # batch_sampler, dataset, ...
        return getattr(self.loader, name)


DATASETS = LIST_FORMATS  # the dataset classes it reads: dataset class -> multi-label


def build_dataset(dataset_cfg, path, class_num, multilabel=False, train=None):
    """The `ImageListDataset` of `<path>.dataset` (ImageNetDataset or MultiLabelDataset), its labels checked
    against `class_num` (and a multi-label list's width against `train`'s: `check_label_range`). `multilabel`:
    `Global.use_multilabel`, which must match the class (`ConfigError`)."""
    dataset_cfg = take(dataset_cfg, f"{path}.dataset")
    name = dataset_cfg["name"]
    if name not in DATASETS:
        raise ConfigError(
            f"{path}.dataset.name: {name} is not supported by the standalone engine (it reads {sorted(DATASETS)} "
            f"list files): run with a PaddleClas source tree (PADDLECLAS_ROOT), whose Engine has it"
        )
    if DATASETS[name] != multilabel:
        raise ConfigError(
            f"{path}.dataset.name: {name} needs Global.use_multilabel: {DATASETS[name]} (it is {multilabel}): set "
            f"it, or use {'MultiLabelDataset' if multilabel else 'ImageNetDataset'}"
        )
    if dataset_cfg["label_ratio"] and not multilabel:
        raise ConfigError(f"{path}.dataset.label_ratio: only MultiLabelDataset reads it: remove it")
    if multilabel and dataset_cfg["batch_transform_ops"]:
        raise ConfigError(f"{path}.dataset.batch_transform_ops: Mixup/Cutmix mix single labels: remove them")
    dataset = ImageListDataset(
        dataset_cfg["image_root"], dataset_cfg["cls_label_path"], dataset_cfg["transform_ops"],
        dataset_cfg["delimiter"], f"{path}.dataset", multilabel, dataset_cfg["label_ratio"],
    )  # fmt: skip
    check_label_range(dataset.labels, class_num, dataset_cfg["cls_label_path"], dataset.line_numbers, train)
    return dataset, dataset_cfg["batch_transform_ops"]


def build_batch_ops(entries, path, class_num):
    """The Mixup/Cutmix operators of `<path>.dataset.batch_transform_ops`."""
    batch_ops = []
    for index, entry in enumerate(entries or []):
        name, params = single_entry(entry, f"{path}.dataset.batch_transform_ops.{index}")
        if name not in BATCH_OPS:
            raise ConfigError(
                f"{path}.dataset.batch_transform_ops.{index}: {name} is not supported (it knows {sorted(BATCH_OPS)})"
            )
        operator = BATCH_OPS[name]
        where = f"{path}.dataset.batch_transform_ops.{index}.{name}"
        batch_ops.append(operator(class_num, **take(params, where, arguments(operator, ("class_num",)))))
    return batch_ops


SAMPLERS = ("DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler")  # DataLoader.<split>.sampler.name


class ShardBatchSampler(paddle.io.BatchSampler):
    """The evaluation's batches: each of the run's processes takes one contiguous share of the `count` samples
    (`numpy.array_split`: shares differ by at most one), in batches of `batch_size`, without the padding
    `DistributedBatchSampler` adds to give every process as many: every sample is evaluated once, so the
    sums over processes are the one-process values (PaddleClas's Engine drops its padding likewise)."""

    def __init__(self, count, batch_size):
        import paddle.distributed as dist

        self.sampler, self.drop_last = None, False  # what Paddle's DataLoader reads of a batch sampler
        share = np.array_split(np.arange(count), max(1, dist.get_world_size()))[dist.get_rank()].tolist()
        self.batches = [share[start : start + batch_size] for start in range(0, len(share), batch_size)]
        self.batch_size = batch_size

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def build_dataloader(section, path, class_num, multilabel=False, evaluation=False, train=None):
    """A `CheckedLoader` over a `paddle.io.DataLoader` for `DataLoader.Train` / `DataLoader.Eval` (`path`),
    with the sampler `<path>.sampler.name` (`SAMPLERS`; `ClassBalancedSampler`: every class equally often);
    `multilabel`: `Global.use_multilabel`; `evaluation`: every sample once over the processes, in order
    (`ShardBatchSampler`, whatever `shuffle` says, which changes no metric; unless the config asks for
    drop_last); `train`: the run's train list and its labels, for an eval list (`check_label_range`). `ConfigError`
    naming a key it does not take."""
    section = take(section, path)
    dataset, batch_entries = build_dataset(section["dataset"], path, class_num, multilabel, train)
    batch_ops = build_batch_ops(batch_entries, path, class_num)
    sampler_cfg = take(section["sampler"], f"{path}.sampler")
    if sampler_cfg["name"] not in SAMPLERS:
        raise ConfigError(f"{path}.sampler.name: {sampler_cfg['name']} is not supported ({', '.join(SAMPLERS)})")
    if sampler_cfg["seed"] is not None and sampler_cfg["name"] != "ClassBalancedSampler":
        raise ConfigError(f"{path}.sampler.seed: only ClassBalancedSampler reads it: remove it")
    if sampler_cfg["name"] == "ClassBalancedSampler":
        sampler = ClassBalancedSampler(
            dataset,
            batch_size=sampler_cfg["batch_size"],
            shuffle=sampler_cfg["shuffle"],
            drop_last=sampler_cfg["drop_last"],
            seed=sampler_cfg["seed"] or 0,
        )
    elif evaluation and not sampler_cfg["drop_last"]:
        sampler = ShardBatchSampler(len(dataset), sampler_cfg["batch_size"])
    else:
        sampler = paddle.io.DistributedBatchSampler(
            dataset,
            batch_size=sampler_cfg["batch_size"],
            shuffle=sampler_cfg["shuffle"],
            drop_last=sampler_cfg["drop_last"],
        )
    loader_cfg = take(section["loader"], f"{path}.loader")
    loader = paddle.io.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=Collate(batch_ops, multilabel),
        num_workers=loader_cfg["num_workers"],
        use_shared_memory=loader_cfg["use_shared_memory"],
        return_list=True,
    )
    return CheckedLoader(loader)


def infer_image(path, ops):
    """The image at `path` through the Infer transforms `ops`, or None (named in the log) when it cannot be
    decoded."""
    from paddleclas.ppcls.utils import logger

    try:
        with open(path, "rb") as handle:
            image = handle.read()
        for op in ops:
            image = op(image)
        if image is None:
            raise ValueError("not an image cv2 can decode")
        return image
    except (OSError, ValueError, AttributeError, TypeError) as error:
        logger.error(f"cannot read image {path} ({error}): left out")
        return None
