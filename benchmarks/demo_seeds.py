"""The main job's training over seeds: `tools/train.py -c configs/demo_digits.yaml` as `tools/demo.sh`
runs it (the tools' thread choice, 2 on this machine), once per seed; best val top-1, the epoch it
came at, and the training command's wall time.

    python benchmarks/demo_seeds.py            # seeds 0 1 2; resumes from results/demo_seeds.json
    python benchmarks/demo_seeds.py --report   # writes results/demo_seeds.md

Time it on a quiet machine: the wall time is the figure the demo's aim (5 minutes) is about.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(PROJECT, "benchmarks", "results", "demo_seeds.json")
CONFIG = "configs/demo_digits.yaml"
EVAL_TOP1 = re.compile(r"\[Eval\]\[Epoch (\d+)\]\[Avg\].*?top1: ([\d.]+)")
LOG_TIME = re.compile(r"^\[(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\]", re.M)


def log_seconds(log_path):
    """From the engine's first log line to its last: the training, without the interpreter's start-up."""
    from datetime import datetime

    stamps = [datetime.strptime(t, "%Y/%m/%d %H:%M:%S") for t in LOG_TIME.findall(open(log_path).read())]
    return (stamps[-1] - stamps[0]).total_seconds()


def train(seed):
    output = f"output/demo_seed{seed}"
    command = [
        sys.executable,
        "tools/train.py",
        "-c",
        CONFIG,
        "-o",
        f"Global.seed={seed}",
        "-o",
        f"Global.output_dir={output}",
        "-o",
        f"Global.save_inference_dir={output}/inference",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PADDLECLAS_ROOT")}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"seed {seed} failed:\n{result.stderr[-3000:]}")
    threads = int(re.search(r"(\d+) CPU threads per process", result.stdout).group(1))
    evals = [(int(epoch), float(top1)) for epoch, top1 in EVAL_TOP1.findall(result.stdout + result.stderr)]
    best_epoch, best = max(evals, key=lambda pair: pair[1])
    return {
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "log_seconds": log_seconds(os.path.join(PROJECT, output, "train.log")),
        "threads": threads,
        "best_val_top1": best,
        "best_epoch": best_epoch,
        "val_top1_per_epoch": [top1 for _, top1 in evals],
        "command": " ".join(command[1:]),
    }


def report(runs):
    best = [run["best_val_top1"] * 100 for run in runs]
    seconds = [run["train_seconds"] for run in runs]
    threads = sorted({run["threads"] for run in runs})
    lines = [
        f"# The demo's training over seeds ({machine().rsplit(', threads', 1)[0]}, "
        f"{'/'.join(map(str, threads))} threads per tool)",
        "",
        "`python benchmarks/demo_seeds.py` (each: `python tools/train.py -c configs/demo_digits.yaml "
        "-o Global.seed=S`, standalone engine, the tools' threads)",
        "",
        "| seed | best val top-1 | at epoch | val top-1 per epoch | train.py wall time | first to last log line |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        per_epoch = " ".join(f"{v * 100:.1f}" for v in run["val_top1_per_epoch"])
        lines.append(
            f"| {run['seed']} | {run['best_val_top1'] * 100:.2f} % | {run['best_epoch']} | {per_epoch} "
            f"| {run['train_seconds']:.0f} s | {run['log_seconds']:.0f} s |"
        )
    spread = f" +- {statistics.stdev(best):.2f}" if len(best) > 1 else ""
    lines += [
        "",
        f"Best val top-1: mean {statistics.mean(best):.2f}{spread} (std), min {min(best):.2f} %; "
        f"train.py wall time (start-up included): max {max(seconds):.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--report", action="store_true", help="write results/demo_seeds.md and stop")
    args = parser.parse_args()
    runs = json.load(open(RESULTS)) if os.path.exists(RESULTS) else []
    if not args.report:
        for seed in args.seeds:
            if any(run["seed"] == seed for run in runs):
                continue
            runs.append(train(seed))
            json.dump(runs, open(RESULTS, "w"), indent=1)
            print(json.dumps(runs[-1]), flush=True)
    with open(RESULTS.replace(".json", ".md"), "w") as handle:
        handle.write(report(sorted(runs, key=lambda run: run["seed"])))


if __name__ == "__main__":
    main()
