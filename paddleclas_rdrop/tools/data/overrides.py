"""The `-o` overrides that point a project config (an ImageNet recipe) at other data, as the
tools print them: the data keys of a set of list files, and the keys of a small CPU run."""

import os


def _root(path):
    return path.rstrip("/") + "/"


def data_overrides(lists_dir, image_root=None, size=None):
    """Image roots, list files, `Arch.class_num` (from `label_list.txt`), the class map and one
    image to predict (the first of the validation list) for lists written in `lists_dir` with
    paths relative to `image_root` (default: `lists_dir`); with `size`, the image size keys."""
    lists, images = _root(lists_dir), _root(image_root or lists_dir)
    with open(f"{lists}label_list.txt") as handle:
        class_num = sum(1 for line in handle if line.strip())
    with open(f"{lists}val_list.txt") as handle:
        first_val_image = handle.readline().split()[0]
    keys = [f"Arch.class_num={class_num}"]
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


def run_overrides(batch_size=32, epochs=2, output_dir="output/digits"):
    """A CPU run of `epochs` at `batch_size` (the recipes' lr of 0.1 per 256 images), no workers."""
    keys = [
        "Global.device=cpu",
        f"Global.epochs={epochs}",
        f"Global.output_dir={output_dir}",
        f"Global.save_inference_dir={os.path.join(output_dir, 'inference')}",
        "Global.print_batch_step=5",
        f"Optimizer.lr.learning_rate={0.1 * batch_size / 256:g}",
    ]
    for split in ("Train", "Eval"):
        keys += [f"DataLoader.{split}.sampler.batch_size={batch_size}", f"DataLoader.{split}.loader.num_workers=0"]
    return keys


def dataset_overrides(root="dataset/digits", size=32, batch_size=32, epochs=2, output_dir="output/digits"):
    """Both, for a dataset written by `data/demo.py` in `root` (lists and images in one folder)."""
    return data_overrides(root, size=size) + run_overrides(batch_size, epochs, output_dir)
