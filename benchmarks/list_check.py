"""The start-up check of a list file at ImageNet scale: 1.3M lines of distinct image files.

    python benchmarks/list_check.py [--lines 1331167] [--folders 1000] [--work /tmp/list_check]

Writes `--lines` distinct files (hard links to 48 digits PNGs) in `--folders` folders, as
ImageNet's train set is laid out, with their list file; then times the plugin's check
(`read_list_file`: one listing per folder, headers of a sample) against the check it replaced
(a `stat` and a header read per line), on a warm page cache, in one process. The files are kept
for a rerun; delete `--work` afterwards.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_list(work, lines, folders):
    from PIL import Image

    from paddleclas_rdrop.tools.data.demo import write_digits_dataset

    list_path = os.path.join(work, f"train_list_{lines}.txt")
    if os.path.exists(list_path):
        return list_path
    source = write_digits_dataset(os.path.join(work, "digits"), size=32, count=48)
    pngs = sorted(os.path.join(source, "images", name) for name in os.listdir(os.path.join(source, "images")))
    Image.open(pngs[0]).close()
    per_folder = -(-lines // folders)
    with open(list_path + ".tmp", "w") as handle:
        for index in range(lines):
            folder = os.path.join(work, "train", f"n{index // per_folder:08d}")
            if index % per_folder == 0:
                os.makedirs(folder, exist_ok=True)
            name = f"img_{index:08d}.png"
            target = os.path.join(folder, name)
            if not os.path.exists(target):
                os.link(pngs[index % len(pngs)], target)
            handle.write(f"train/{os.path.basename(folder)}/{name} {index % 1000}\n")
    os.replace(list_path + ".tmp", list_path)
    return list_path


def per_line_check(root, list_path):
    """The check before this benchmark: every image `stat`-ed and its header opened."""
    from PIL import Image

    with open(list_path) as handle:
        for line in handle:
            path = os.path.join(root, line.split(" ", 1)[0])
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            with Image.open(path):
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1331167)  # ImageNet-1k's train list
    parser.add_argument("--folders", type=int, default=1000)
    parser.add_argument("--work", default="/tmp/list_check")
    args = parser.parse_args()

    from paddleclas_rdrop.tools.data.lists import HEADER_SAMPLE, LISTING_THREADS, read_list_file

    start = time.perf_counter()
    list_path = write_list(args.work, args.lines, args.folders)
    print(
        f"list of {args.lines} distinct files in {args.folders} folders ready in "
        f"{time.perf_counter() - start:.0f} s: {list_path}",
        flush=True,
    )
    per_line_check(args.work, list_path)  # warms the page cache for both checks
    timings = {}
    for name, check in (
        ("plugin check", lambda: read_list_file(args.work, list_path)),
        ("per-line stat + header", lambda: per_line_check(args.work, list_path)),
    ):
        start = time.perf_counter()
        check()
        timings[name] = time.perf_counter() - start
    print(f"| check | {args.lines} lines, warm cache, {os.cpu_count()} cores |\n|---|---|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.1f} s |")
    print(f"(plugin: {LISTING_THREADS} folder listings at a time, {HEADER_SAMPLE} headers sampled)")


if __name__ == "__main__":
    main()
