"""Small real data that installs offline: scikit-learn's digits as RGB images."""
import numpy as np
from PIL import Image


def digits_images(size=32, count=None):
    """The 8x8 digits upscaled to `size` x `size` uint8 RGB, with their int labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.images[:count] * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack([
        np.asarray(Image.fromarray(p).resize((size, size), Image.BILINEAR).convert("RGB"))
        for p in pixels])
    return images, digits.target[:count].astype(np.int64)


def write_digits_dataset(root, size=32, count=None, val_fraction=0.2, seed=0):
    """Write the digits as PNG files with PaddleClas list files, on a fixed seeded split.

    `root/images/<index>.png`, `root/train_list.txt` and `root/val_list.txt` (lines
    `images/<index>.png <label>`), `root/label_list.txt` (`<id> <name>`, PaddleClas's
    class_id_map_file). Existing files are left alone: an existing dataset is reused.
    """
    import os

    list_paths = [os.path.join(root, name) for name in ("train_list.txt", "val_list.txt")]
    if all(os.path.exists(path) for path in list_paths):
        return root
    images, labels = digits_images(size=size, count=count)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    lines = []
    for index, (image, label) in enumerate(zip(images, labels)):
        name = f"images/{index:04d}.png"
        Image.fromarray(image).save(os.path.join(root, name))
        lines.append(f"{name} {label}\n")
    order = np.random.default_rng(seed).permutation(len(lines))
    n_val = int(round(len(lines) * val_fraction))
    splits = (sorted(order[n_val:]), sorted(order[:n_val]))
    for path, indices in zip(list_paths, splits):
        with open(path, "w") as handle:
            handle.writelines(lines[i] for i in indices)
    with open(os.path.join(root, "label_list.txt"), "w") as handle:
        handle.writelines(f"{label} {label}\n" for label in range(10))
    return root


def digits_overrides(root="dataset/digits", size=32, batch_size=32, epochs=2, output_dir="output/digits"):
    """The `-o` overrides that point a project config at the digits demo on CPU."""
    root = root.rstrip("/") + "/"
    train, val, infer = "DataLoader.Train.", "DataLoader.Eval.", "Infer."
    return [
        "Global.device=cpu", f"Global.epochs={epochs}", f"Global.image_shape=[3,{size},{size}]",
        f"Global.output_dir={output_dir}", f"Global.save_inference_dir={output_dir}/inference",
        "Global.print_batch_step=5", "Arch.class_num=10",
        f"Optimizer.lr.learning_rate={0.1 * batch_size / 256:g}",  # the recipe's 0.1 per 256 images
        f"{train}dataset.image_root={root}", f"{train}dataset.cls_label_path={root}train_list.txt",
        f"{train}dataset.transform_ops.1.RandCropImage.size={size}",
        f"{train}sampler.batch_size={batch_size}", f"{train}loader.num_workers=0",
        f"{val}dataset.image_root={root}", f"{val}dataset.cls_label_path={root}val_list.txt",
        f"{val}dataset.transform_ops.1.ResizeImage.resize_short={size}",
        f"{val}dataset.transform_ops.2.CropImage.size={size}",
        f"{val}sampler.batch_size={batch_size}", f"{val}loader.num_workers=0",
        f"{infer}infer_imgs={root}images/0000.png",
        f"{infer}transforms.1.ResizeImage.resize_short={size}", f"{infer}transforms.2.CropImage.size={size}",
        f"{infer}PostProcess.class_id_map_file={root}label_list.txt",
    ]
