"""The `-o` overrides that point a project config (an ImageNet recipe) at other data, as the
tools print them: the data keys of a set of list files, the schedule of a recipe that learns on
small data, and the keys of a small CPU run."""

import math

from .text import read_lines

MIXUP_BELOW = 5000  # training images: below this, the own-data schedule turns Mixup off
WORKERS_BELOW = 1000  # training images: below this, it decodes in the training process (no loader workers)
DEMO_LR_PER_32 = 0.05  # configs/demo_digits.yaml's learning rate at batch 32 (with clip_norm 1.0)
WARMUP_STEPS = 20  # the demo warms up over 23 steps; whole epochs here, as PaddleClas's schedules take
STEPS = 200  # the own-data schedule runs about this many steps (at least 10 epochs)


def _root(path):
    return path.rstrip("/") + "/"


def data_overrides(lists_dir, image_root=None, size=None):
    """Image roots, list files, `Arch.class_num` (from `label_list.txt`), the class map and one
    image to predict (the first of the validation list) for lists written in `lists_dir` with
    paths relative to `image_root` (default: `lists_dir`); with `size`, the image size keys."""
    lists, images = _root(lists_dir), _root(image_root or lists_dir)
    class_num = sum(1 for _, line in read_lines(f"{lists}label_list.txt", "label list") if line.strip())
    val = [line.split()[0] for _, line in read_lines(f"{lists}val_list.txt", "list file") if line.strip()]
    train = [line.split()[0] for _, line in read_lines(f"{lists}train_list.txt", "list file") if line.strip()]
    keys = [f"Arch.class_num={class_num}"]
    if not val:  # --val-ratio 0: nothing to evaluate on during training
        keys.append("Global.eval_during_train=False")
    first_val_image = (val or train)[0]
    for split, name in (("Train", "train"), ("Eval", "val")):
        keys += [
            f"DataLoader.{split}.dataset.image_root={images}",
            f"DataLoader.{split}.dataset.cls_label_path={lists}{name}_list.txt",
        ]
    keys += [
        f"Infer.infer_imgs={images}{first_val_image}",
        f"Infer.PostProcess.class_id_map_file={lists}label_list.txt",
    ]
    if size:
        keys += [
            f"Global.image_shape=[3,{size},{size}]",
            f"DataLoader.Train.dataset.transform_ops.1.RandCropImage.size={size}",
            f"DataLoader.Eval.dataset.transform_ops.1.ResizeImage.resize_short={size}",
            f"DataLoader.Eval.dataset.transform_ops.2.CropImage.size={size}",
            f"Infer.transforms.1.ResizeImage.resize_short={size}",
            f"Infer.transforms.2.CropImage.size={size}",
        ]
    return keys


def small_data_overrides(train_images, max_batch=64):
    """The schedule of a project recipe that learns on `train_images` images from scratch, as `-o` keys:
    - `DataLoader.Train.sampler.batch_size`: a power of 2 near an eighth of the images, from 16 (BatchNorm's
      statistics over fewer images, at the 1x1 last stage of a 32 px image, are noise) to `max_batch` (the
      recipes' 64), so that an epoch has several steps;
    - `Optimizer.lr.learning_rate`: the demo's 0.05 at batch 32 scaled with the batch (PaddleClas's linear
      rule), with `Optimizer.clip_norm` 1.0 and a warm-up of about 20 steps (`warmup_epoch`, whole epochs)
      as in `configs/demo_digits.yaml`;
    - `Global.epochs`: about 200 steps, at least 10 epochs;
    - `RandCropImage.scale` [0.5, 1] (the recipes' crop is op 1 of the train `transform_ops`): a crop keeps
      at least half the image, where ImageNet's crops of 8 % often miss the object;
    - `DataLoader.Train.dataset.batch_transform_ops=None` (no Mixup) below `MIXUP_BELOW` images;
    - `num_workers` 0 for both loaders below `WORKERS_BELOW` images: starting the recipes' 4 workers at every
      epoch (and evaluation) takes longer than decoding so few images in the training process;
    - checkpoints every fifth of the run, the last 2 kept (`Global.keep_checkpoint_max`).
    Raises `ValueError` for fewer than 1 image."""
    if train_images < 1:
        raise ValueError(f"no training image ({train_images})")
    batch = min(max_batch, max(16, 2 ** int(math.log2(max(1, train_images // 8)))))
    steps = math.ceil(train_images / batch)
    epochs = max(10, math.ceil(STEPS / steps))
    keys = [
        f"DataLoader.Train.sampler.batch_size={batch}",
        f"Optimizer.lr.learning_rate={DEMO_LR_PER_32 * batch / 32:g}",
        f"Optimizer.lr.warmup_epoch={max(1, round(WARMUP_STEPS / steps))}",
        "Optimizer.clip_norm=1.0",
        "DataLoader.Train.dataset.transform_ops.1.RandCropImage.scale=[0.5,1.0]",
        f"Global.epochs={epochs}",
        f"Global.save_interval={max(1, epochs // 5)}",
        "Global.keep_checkpoint_max=2",
    ]
    if train_images < MIXUP_BELOW:
        keys.append("DataLoader.Train.dataset.batch_transform_ops=None")
    if train_images < WORKERS_BELOW:
        keys += [f"DataLoader.{split}.loader.num_workers=0" for split in ("Train", "Eval")]
    return keys


def multilabel_overrides(lists_dir):
    """The `-o` keys that switch a project recipe (CELoss first in `Loss.Train` and `Loss.Eval`, TopkAcc,
    Topk) to multi-label, given after `data_overrides` (the later key wins): `Global.use_multilabel`,
    `MultiLabelDataset` lists, `MultiLabelLoss` in CELoss's place (R-Drop's KL then compares a Bernoulli per
    label), MultiLabelMAP (the best model's metric) and HammingDistance in TopkAcc's, `MultiLabelThreshOutput`
    for prediction, and no Mixup (`MultiLabelDataset` takes no batch ops). PaddleClas's `-o` parser reads a
    value as a Python literal, so one key replaces a whole list entry or section; no value holds a space, so
    the keys survive `$(cat overrides.txt)`."""
    label_list = f"{_root(lists_dir)}label_list.txt"
    loss = "{'MultiLabelLoss':{'weight':1.0}}"
    return [
        "Global.use_multilabel=True",
        "DataLoader.Train.dataset.name=MultiLabelDataset",
        "DataLoader.Eval.dataset.name=MultiLabelDataset",
        f"Loss.Train.0={loss}",
        f"Loss.Eval.0={loss}",
        "Metric.Eval=[{'MultiLabelMAP':{}},{'HammingDistance':{}}]",
        f"Infer.PostProcess={{'name':'MultiLabelThreshOutput','threshold':0.5,'class_id_map_file':{label_list!r}}}",
        "DataLoader.Train.dataset.batch_transform_ops=None",
    ]
