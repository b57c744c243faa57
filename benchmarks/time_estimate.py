"""The expected run time `tools/train.py` prints (`[Train][Time]`, `paddleclas_rdrop/tools/runs/clock.py`)
against the run time it then takes, on the own-data schedule: the README's own-data lines on scikit-learn's
1797 digits (written as 128 px PNG files with a labels CSV), `csv_to_lists.py --size S --val-ratio 0.25`, then
`train.py -c configs/rdrop_se_resnet.yaml $(cat overrides.txt) -o Global.device=cpu`, one run per size.

    python benchmarks/time_estimate.py                # 32 and 64 px; resumes from results/time_estimate.jsonl
    python benchmarks/time_estimate.py --sizes 32     # one size
    python benchmarks/time_estimate.py --report       # writes results/time_estimate.md from the results file
    python benchmarks/time_estimate.py --check        # the harness on 2 epochs at 32 px, its row printed only

Each run's row: the first estimate and when it was printed, the estimate after the first epoch, the summary's
run time and the process's wall time. The engine is the one the tools select (PaddleClas's Engine where
PADDLECLAS_ROOT is set). Run it on a quiet machine: the estimate measures the first steps, and another job
that starts or ends later changes the rest of the run. A run stopped before its row was written starts again
from scratch; each run's weights are deleted once its row is written (its train.log stays).
"""

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(PROJECT, "benchmarks", "results", "time_estimate.jsonl")
WORK = os.path.join(PROJECT, "output", "time_estimate")
CONFIG = "configs/rdrop_se_resnet.yaml"
SOURCE_SIZE = 128  # the side of the PNG files the lists point at (the training size is --size)
FIRST = re.compile(r"\[Train\]\[Time\] expected run time ([^,]+), ending about \S+ \(([^;]+) so far")
AFTER = re.compile(r"\[Train\]\[Time\] after epoch \d+: expected run time ([^,]+),")
RUN_TIME = re.compile(r"^run time:\s+(.+)$", re.M)
THREADS = re.compile(r"(\d+) CPU threads per process")
USER_THREADS = os.environ.get("OMP_NUM_THREADS")  # before `import paddle` (in `machine`) sets it to 1 here


def seconds_of(text):
    """The seconds of a duration as the tools print it: "2 h 5 min", "9 min 40 s", "35 s", "2.5 s"."""
    parts = dict((unit, float(value)) for value, unit in re.findall(r"([\d.]+) (h|min|s)\b", text))
    return parts.get("h", 0) * 3600 + parts.get("min", 0) * 60 + parts.get("s", 0)


def write_images(folder):
    """The digits as `folder/<n>.png` (SOURCE_SIZE px) and `folder/labels.csv`, once."""
    path = os.path.join(folder, "labels.csv")
    if os.path.exists(path):
        return path
    from PIL import Image

    from paddleclas_rdrop.tools.data.demo import digits_images

    images, labels = digits_images(size=SOURCE_SIZE)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(os.path.join(folder, f"{index:04d}.png"))
        rows.append((f"{index:04d}.png", int(label)))
    with open(path + ".partial", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label"])
        writer.writerows(rows)
    os.replace(path + ".partial", path)
    return path


def run(size, extra=()):
    """One own-data run at `size` px (with the `-o` keys `extra` after the others): its lists, its training,
    the row."""
    images = os.path.join(WORK, "images")
    labels = write_images(images)
    lists, out = os.path.join(WORK, f"lists_{size}"), os.path.join(WORK, f"run_{size}")
    shutil.rmtree(out, ignore_errors=True)  # a run stopped before its row: from scratch
    subprocess.run(
        [sys.executable, "tools/csv_to_lists.py", "--csv", labels, "--image-root", images, "--out", lists]
        + ["--size", str(size), "--val-ratio", "0.25", "--force"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
    )
    with open(os.path.join(lists, "overrides.txt")) as handle:
        overrides = handle.read().split()
    command = [sys.executable, "tools/train.py", "-c", CONFIG, *overrides]
    command += ["-o", "Global.device=cpu", "-o", f"Global.output_dir={out}"]
    command += [arg for key in extra for arg in ("-o", key)]
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env.update({"OMP_NUM_THREADS": USER_THREADS} if USER_THREADS else {})  # unset: the tool takes the cores
    began = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - began
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"{size} px failed:\n{log[-3000:]}")
    first, after, run_time = FIRST.search(log), AFTER.search(log), RUN_TIME.search(log)
    for root, _, names in os.walk(out):  # the weights go, the log stays
        for name in names:
            if name.endswith((".pdparams", ".pdopt", ".pdstates", ".pdema")):
                os.remove(os.path.join(root, name))
    actual = seconds_of(run_time.group(1))
    return {
        "size": size,
        "engine": "paddleclas" if "PaddleClas's Engine from the source tree" in log else "standalone",
        "first_estimate_s": seconds_of(first.group(1)),
        "first_estimate_at_s": seconds_of(first.group(2)),
        "after_epoch_1_s": seconds_of(after.group(1)) if after else None,
        "run_time_s": actual,
        "wall_s": round(wall, 1),
        "first_error": round(seconds_of(first.group(1)) / actual - 1, 4),
        "first_line": first.group(0),
        "machine": machine(f"{THREADS.search(log).group(1)} CPU threads (the tool's)"),
        "command": " ".join(command[1:]),
    }


def report(rows):
    lines = [
        f"# The expected run time against the run time ({rows[0]['machine'] if rows else machine()})",
        "",
        "`python benchmarks/time_estimate.py`: the own-data schedule (digits, 1797 images at 128 px, "
        "`--val-ratio 0.25`) on `configs/rdrop_se_resnet.yaml`, one run per size.",
        "",
        "| size | engine | first estimate | printed at | after epoch 1 | run time | first estimate's error | wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        after = f"{row['after_epoch_1_s']:.0f} s" if row["after_epoch_1_s"] is not None else "-"
        lines.append(
            f"| {row['size']} px | {row['engine']} | {row['first_estimate_s']:.0f} s "
            f"| {row['first_estimate_at_s']:.0f} s | {after} | {row['run_time_s']:.0f} s "
            f"| {100 * row['first_error']:+.1f} % | {row['wall_s']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--report", action="store_true", help="write results/time_estimate.md and stop")
    parser.add_argument("--check", action="store_true", help="2 epochs at 32 px, printed, not recorded")
    args = parser.parse_args()
    if args.check:
        print(json.dumps(run(32, ["Global.epochs=2"]), indent=1))
        return
    rows = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    if not args.report:
        for size in args.sizes:
            if any(row["size"] == size for row in rows):
                continue
            rows.append(run(size))
            with open(RESULTS, "a") as handle:
                handle.write(json.dumps(rows[-1]) + "\n")
            print(json.dumps(rows[-1]), flush=True)
    with open(RESULTS.replace(".jsonl", ".md"), "w") as handle:
        handle.write(report(sorted(rows, key=lambda row: row["size"])))


if __name__ == "__main__":
    main()
