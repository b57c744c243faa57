"""CSV (`image,label` columns) + image folder -> PaddleClas train/val list files, label map, and
the `-o` overrides that point a project recipe at them and give it a schedule that learns on this
many images (printed, and written to overrides.txt beside the lists).

With --label-list (the training run's label_list.txt), the CSV is a test set instead: test_list.txt,
numbered as the model's classes, and test_overrides.txt, the -o keys that evaluate on it."""

import argparse
import os
import sys

from paddleclas_rdrop.core.errors import RDropError
from paddleclas_rdrop.tools.data.csv_lists import write_lists, write_test_list
from paddleclas_rdrop.tools.data.overrides import data_overrides, small_data_overrides

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", required=True, help="CSV with a header row")
    parser.add_argument("--image-root", required=True, help="folder the CSV's image paths are relative to")
    parser.add_argument("--out", help="where to write the lists (default: --image-root)")
    parser.add_argument("--val-ratio", type=float, default=0.1, help="share of each class for val (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    parser.add_argument("--image-column", default="image", help="the CSV column of image paths")
    parser.add_argument("--label-column", default="label", help="the CSV column of labels")
    parser.add_argument("--size", type=int, help="train and predict at this image side (default: the config's)")
    parser.add_argument("--force", action="store_true", help="overwrite existing list files")
    parser.add_argument(
        "--label-list", help="a test CSV: number it by this label_list.txt (the training lists') into test_list.txt"
    )
    args = parser.parse_args()
    out = args.out or args.image_root
    if args.label_list:
        try:
            counts = write_test_list(
                args.csv, args.image_root, args.label_list, out, args.force, args.image_column, args.label_column
            )
        except RDropError as error:
            sys.exit(f"error: {error}")
        keys = [
            f"-o DataLoader.Eval.dataset.image_root={args.image_root.rstrip('/')}/",
            f"-o DataLoader.Eval.dataset.cls_label_path={os.path.join(out, 'test_list.txt')}",
        ]
        with open(os.path.join(out, "test_overrides.txt"), "w") as handle:
            handle.write("\n".join(keys) + "\n")
        print(f"test_list.txt: {sum(counts.values())} images of {len(counts)} classes, numbered as {args.label_list}")
        print(
            f"Overrides for tools/eval.py (after the training lists' overrides), also in "
            f"{os.path.join(out, 'test_overrides.txt')}:\n  " + " \\\n  ".join(keys)
        )
        sys.exit(0)
    try:
        counts = write_lists(
            args.csv, args.image_root, out, args.val_ratio, args.seed, args.force, args.image_column, args.label_column
        )
    except RDropError as error:
        sys.exit(f"error: {error}")
    print(f"{counts['classes']} classes" + (" (string labels numbered: see label_list.txt)" if counts["named"] else ""))
    print("class  train  val")
    for class_id in range(counts["classes"]):
        print(f"{class_id:>5}  {counts['train'][class_id]:>5}  {counts['val'][class_id]:>3}")
    print(f"total  {sum(counts['train'].values()):>5}  {sum(counts['val'].values()):>3}")
    train_images = sum(counts["train"].values())
    keys = data_overrides(out, args.image_root, args.size) + small_data_overrides(train_images)
    overrides = [f"-o {key}" for key in keys]
    with open(os.path.join(out, "overrides.txt"), "w") as handle:
        handle.write("\n".join(overrides) + "\n")
    print(
        f"\nOverrides for tools/train.py, eval.py, export_model.py and predict.py (paths relative to "
        f"this folder), also in {os.path.join(out, 'overrides.txt')}:\n  " + " \\\n  ".join(overrides)
    )
