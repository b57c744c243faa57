"""CSV (`image,label` columns) + image folder -> PaddleClas train/val list files, label map, and
the `-o` overrides that point a project recipe at them and give it a schedule that learns on this
many images (printed, and written to overrides.txt beside the lists).

With --label-list (the training run's label_list.txt), the CSV is a test set instead: test_list.txt,
numbered as the model's classes, and test_overrides.txt, the -o keys that evaluate on it.

Multi-label (several labels per image): --label-delimiter names the character that joins the label names in
the label column (no default: without it or --label-columns the CSV is single-label), or --label-columns /
--every-column-a-label name 0/1 columns, one per label; the lists are MultiLabelDataset's and overrides.txt
also switches the recipe to multi-label. An image with no label trains as all 0 (--require-label refuses it)."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import argparse
import os
import sys

from paddleclas_rdrop.core.errors import RDropError, naming_paths
from paddleclas_rdrop.core.files import write_text
from paddleclas_rdrop.tools.args import check_numbers
from paddleclas_rdrop.tools.data.class_balance import imbalance_warning
from paddleclas_rdrop.tools.data.csv_lists import label_ids, write_lists, write_test_list
from paddleclas_rdrop.tools.data.multilabel_csv import (
    EVERY_COLUMN,
    LabelSpec,
    write_multilabel_lists,
    write_multilabel_test_list,
)
from paddleclas_rdrop.tools.data.overrides import data_overrides, multilabel_overrides, small_data_overrides
from paddleclas_rdrop.tools.runs.clock import PLANNING

NUMBERS = {  # the numeric flags' least values (`check_numbers`), checked before anything is read or written
    "--size": (1, "the image side in pixels", 224),
    "--seed": (0, "the split's seed", 0),
}


def label_spec(args):
    """The `LabelSpec` of a multi-label CSV's flags, or None for a single-label CSV."""
    columns = EVERY_COLUMN if args.every_column_a_label else None
    if args.label_columns:
        columns = tuple(name.strip() for name in args.label_columns.split(",") if name.strip())
    if args.label_delimiter is not None and columns is not None:
        sys.exit("error: --label-delimiter reads one label column, --label-columns 0/1 columns: give one of them")
    if args.label_delimiter is None and columns is None:
        if args.require_label:
            sys.exit("error: --require-label is for a multi-label CSV: add --label-delimiter or --label-columns")
        return None
    if args.label_delimiter == "":
        sys.exit("error: --label-delimiter is empty: give the character between label names, e.g. '|'")
    return LabelSpec(args.label_column, args.label_delimiter, columns, args.require_label)


def write_overrides(out, name, keys, tools):
    """Write the `-o` `keys` into `out/name` and print them for `tools`."""
    overrides = [f"-o {key}" for key in keys]
    path = os.path.join(out, name)
    write_text(path, "\n".join(overrides) + "\n")
    print(f"\nOverrides for {tools}, also in {path}:\n  " + " \\\n  ".join(overrides))


def multilabel_lists(args, out, spec):
    """The multi-label branch: test_list.txt (--label-list) or the training lists, and their overrides."""
    if args.label_list:
        counts, images = write_multilabel_test_list(
            args.csv, args.image_root, args.label_list, out, spec, args.force, args.image_column
        )
        print(f"test_list.txt: {images} images, labels numbered as {args.label_list}")
        print("\n".join(f"  {name}: {count}" for name, count in sorted(counts.items())))
        write_overrides(out, "test_overrides.txt", test_keys(args, out), "tools/eval.py (after the training lists')")
        return
    counts = write_multilabel_lists(
        args.csv, args.image_root, out, spec, args.val_ratio, args.seed, args.force, args.image_column
    )
    print(f"{len(counts['labels'])} labels ({counts['none']} images with none of them); images with each label:")
    print("label  train  val  name")
    for index, name in enumerate(counts["labels"]):
        print(f"{index:>5}  {counts['train'][name]:>5}  {counts['val'][name]:>3}  {name}")
    print(f"images {counts['images']['train']:>5}  {counts['images']['val']:>3}")
    keys = data_overrides(out, args.image_root, args.size) + small_data_overrides(counts["images"]["train"])
    switch = multilabel_overrides(out)  # its Infer.PostProcess replaces the class map key
    keys = [key for key in keys if key not in switch and not key.startswith("Infer.PostProcess.")] + switch
    write_overrides(out, "overrides.txt", keys, "tools/train.py, eval.py, export_model.py, predict.py and compare.py")
    print(f"\n{PLANNING}")


def warn(line):
    """`line` (a warning, or None) on stderr, after what stdout holds, a blank line before it."""
    if line:
        sys.stdout.flush()
        print(f"\n{line}", file=sys.stderr, flush=True)


def test_keys(args, out):
    return [
        f"DataLoader.Eval.dataset.image_root={args.image_root.rstrip('/')}/",
        f"DataLoader.Eval.dataset.cls_label_path={os.path.join(out, 'test_list.txt')}",
    ]


def main(args, out):
    """The tool, on its parsed `args`, writing into `out`; --val-ratio is checked in [0, 1) by the writers."""
    try:
        check_numbers(args, NUMBERS)
    except RDropError as error:
        sys.exit(f"error: {error}")
    spec = label_spec(args)
    if spec is not None:
        try:
            multilabel_lists(args, out, spec)
        except RDropError as error:
            sys.exit(f"error: {error}")
        sys.exit(0)
    if args.label_list:
        try:
            counts = write_test_list(
                args.csv, args.image_root, args.label_list, out, args.force, args.image_column, args.label_column
            )
        except RDropError as error:
            sys.exit(f"error: {error}")
        keys = [f"-o {key}" for key in test_keys(args, out)]
        write_text(os.path.join(out, "test_overrides.txt"), "\n".join(keys) + "\n")
        print(f"test_list.txt: {sum(counts.values())} images of {len(counts)} classes, numbered as {args.label_list}")
        print(
            f"Overrides for tools/eval.py (after the training lists' overrides), also in "
            f"{os.path.join(out, 'test_overrides.txt')}:\n  " + " \\\n  ".join(keys)
        )
        names = {class_id: name for name, class_id in label_ids(args.label_list).items()}
        warn(imbalance_warning(counts, names, "the test CSV"))
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
    write_text(os.path.join(out, "overrides.txt"), "\n".join(overrides) + "\n")
    print(
        f"\nOverrides for tools/train.py, eval.py, export_model.py and predict.py (paths relative to "
        f"this folder), also in {os.path.join(out, 'overrides.txt')}:\n  " + " \\\n  ".join(overrides)
    )
    print(f"\n{PLANNING}")
    warn(imbalance_warning(counts["train"] + counts["val"], counts["names"], "the CSV"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", required=True, help="CSV with a header row")
    parser.add_argument("--image-root", required=True, help="folder the CSV's image paths are relative to")
    parser.add_argument("--out", help="where to write the lists (default: --image-root)")
    parser.add_argument("--val-ratio", type=float, default=0.1, help="share of each class for val (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    parser.add_argument("--image-column", default="image", help="the CSV column of image paths")
    parser.add_argument("--label-column", default="label", help="the CSV column of labels")
    parser.add_argument(
        "--label-delimiter", help="multi-label: the label column joins label names with this, e.g. '|' (no default)"
    )
    parser.add_argument("--label-columns", help="multi-label: these comma-separated 0/1 columns, one per label")
    parser.add_argument(
        "--every-column-a-label", action="store_true", help="multi-label: every column but the image one is a 0/1 label"
    )
    parser.add_argument("--require-label", action="store_true", help="multi-label: refuse an image with no label")
    parser.add_argument("--size", type=int, help="train and predict at this image side (default: the config's)")
    parser.add_argument("--force", action="store_true", help="overwrite existing list files")
    parser.add_argument(
        "--label-list", help="a test CSV: number it by this label_list.txt (the training lists') into test_list.txt"
    )
    args = parser.parse_args()
    out = args.out or args.image_root
    paths = {"--out": out, "--csv": args.csv, "--image-root": args.image_root, "--label-list": args.label_list}
    with naming_paths(paths):  # an OSError of their files names the option
        main(args, out)
