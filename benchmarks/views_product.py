"""Phase 2 of the per-pass augmentation study: the phase-1 arms through the plugin's own tools.

    nohup python benchmarks/views_product.py --jobs 2 > views_product.log 2>&1 &   # resumes from its results
    python benchmarks/views_product.py --report                                  # tables from the results
    python benchmarks/views_product.py --quick                                   # seed 0, one epoch: a check

The setting, declared before any of its results was read (docs/benchmarks.md, "phase 2"):
- The task of phase 1 (`benchmarks/views_study.py`), as image files: the 500 training images of
  Fashion-MNIST classes 5-9 and the 5000 official test images of those classes, written as 28 px PNGs
  with PaddleClas list files; the pretrained SE_ResNet18_vd of phase 1 with a new 5-class classifier
  drawn from the seed (one start checkpoint per seed, shared by every arm).
- Each run is `tools/train.py` on a YAML built from `configs/rdrop_se_resnet.yaml` /
  `configs/baseline_se_resnet.yaml`: the whole network trained (not only its last stage), 40 epochs,
  batch 50, Momentum 0.9, cosine lr 0.03, L2 5e-4, plain CE, random crop (scale 0.85-1, 28 px) and
  flip, `Global.seed` = the seed; then `tools/eval.py` on the final weights with the test list and
  `Metric.Eval: TopkAcc + Calibration` (top-1, ECE over 15 bins, NLL).
- Arms, as in phase 1, with phase 1's choice of alpha and warm-up (made on validation):
  `baseline` (no stochastic layer), `stochastic` (head dropout 0.1, drop path 0.1 in the last stage),
  `rdrop` (those layers, two passes of one view, RDropLoss), `views_ce` (`RDrop.augment_per_pass`,
  CE only: the baseline twin with two views), `views_kl` (two views + RDropLoss).
- Seeds 0-5 (paired: the same start checkpoint, batch order and first-pass augmentation per seed).
  Reported like phase 1: paired differences with 95 % t intervals.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import views_study  # noqa: E402

import accuracy  # noqa: E402
from common import machine, publish, set_threads  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = tuple(range(6))
ARMS = tuple(views_study.ARMS)


def write_images(root):
    """The phase-1 task as PNG files and list files under `root` (once)."""
    import numpy as np
    from PIL import Image

    if os.path.exists(os.path.join(root, "test_list.txt")):
        return
    data = accuracy.load_data(quick=False)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    for split in ("fit", "val", "test"):
        images, labels = data[split]
        lines = []
        for index, (image, label) in enumerate(zip(images, labels)):
            gray = np.round((image[0] * 0.5 + 0.5) * 255).astype(np.uint8)
            name = f"images/{split}_{index:05d}.png"
            Image.fromarray(gray).convert("RGB").save(os.path.join(root, name))
            lines.append(f"{name} {int(label)}\n")
        with open(os.path.join(root, f"{split}_list.txt"), "w") as handle:
            handle.writelines(lines)


def start_checkpoint(args, seed):
    """The pretrained network with the seed's new classifier, as a stock checkpoint (once per seed)."""
    import paddle

    path = os.path.join(args.work, f"start_{seed}")
    if not os.path.exists(path + ".pdparams"):
        paddle.save(views_study.pretrained_net(args, seed).state_dict(), path + ".pdparams")
    return path


def config_for(args, arm, alpha, warmup):
    """The YAML of an arm: a project recipe pointed at the phase-1 task."""
    import yaml

    from paddleclas_rdrop.tools.data.config_file import read_config

    views, stochastic, has_kl = views_study.ARMS[arm]
    name = "rdrop_se_resnet.yaml" if has_kl else "baseline_se_resnet.yaml"
    config = read_config(os.path.join(PROJECT, "configs", name))
    data = os.path.abspath(os.path.join(args.work, "data"))
    transforms = [
        {"DecodeImage": {"to_rgb": True, "channel_first": False}},
        {"RandCropImage": {"size": 28, "scale": [0.85, 1.0], "ratio": [1.0, 1.0]}},
        {"RandFlipImage": {"flip_code": 1}},
        {"NormalizeImage": {"scale": 1.0 / 255.0, "mean": [0.5] * 3, "std": [0.5] * 3, "order": ""}},
    ]
    config["Global"].update(
        {
            "device": "cpu",
            "epochs": args.epochs,
            "save_interval": 1000,
            "eval_during_train": False,
            "print_batch_step": 5,
            "image_shape": [3, 28, 28],
        }
    )
    config["Arch"] = {"name": args.arch, "class_num": 5}
    config["Loss"]["Train"] = [{"CELoss": {"weight": 1.0}}] + (
        [{"RDropLoss": {"weight": alpha, "reduction": "batchmean"}}] if has_kl else []
    )
    config["Optimizer"] = {
        "name": "Momentum",
        "momentum": 0.9,
        "lr": {"name": "Cosine", "learning_rate": args.lr},
        "regularizer": {"name": "L2", "coeff": 5e-4},
    }
    loader = {"num_workers": 0, "use_shared_memory": False}
    config["DataLoader"] = {
        "Train": {
            "dataset": {
                "name": "ImageNetDataset",
                "image_root": data,
                "cls_label_path": f"{data}/fit_list.txt",
                "transform_ops": transforms,
            },
            "sampler": {"name": "DistributedBatchSampler", "batch_size": 50, "drop_last": True, "shuffle": True},
            "loader": loader,
        },
        "Eval": {
            "dataset": {
                "name": "ImageNetDataset",
                "image_root": data,
                "cls_label_path": f"{data}/test_list.txt",
                "transform_ops": [transforms[0], transforms[3]],
            },
            "sampler": {"name": "DistributedBatchSampler", "batch_size": 250, "drop_last": False, "shuffle": False},
            "loader": loader,
        },
    }
    config["Metric"] = {
        "Train": [{"TopkAcc": {"topk": [1]}}],
        "Eval": [{"TopkAcc": {"topk": [1]}}, {"Calibration": {"bins": 15}}],
    }
    rdrop = {}
    if stochastic:
        rdrop.update({"head_dropout": 0.1, "drop_path": 0.1, "drop_path_stages": [4], "head_layer": "out"})
    if views == 2:
        rdrop.update({"augment_per_pass": True, "passes": 2})
    if has_kl and warmup:
        rdrop["alpha_warmup_epochs"] = warmup
    if has_kl:
        config["Global"]["train_mode"] = "rdrop"
    else:
        config["Global"].pop("train_mode", None)
    config["RDrop"] = rdrop
    path = os.path.join(args.work, f"{arm}.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


def run(job):
    """train.py then eval.py for one arm and seed; the test metrics of the final weights."""
    args, (arm, alpha, warmup, seed) = job
    config = config_for(args, arm, alpha, warmup)
    out = os.path.abspath(os.path.join(args.work, "runs", f"{arm}_{seed}"))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    common = ["-c", config, "-o", f"Global.output_dir={out}", "-o", f"Global.seed={seed}"]

    def tool(name, weights):
        result = subprocess.run(
            [sys.executable, os.path.join(PROJECT, "tools", name), *common, "-o", f"Global.pretrained_model={weights}"],
            capture_output=True,
            text=True,
            env=env,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{arm} seed {seed}: {name} failed:\n{result.stderr[-3000:]}")
        return result

    start = time.time()
    train = tool("train.py", start_checkpoint(args, seed))
    train_seconds = time.time() - start
    evaluated = tool("eval.py", f"{out}/latest")
    line = next((line for line in (evaluated.stdout + evaluated.stderr).splitlines() if "][Avg]" in line), None)
    if line is None:
        raise RuntimeError(f"{arm} seed {seed}: eval.py printed no [Avg] line:\n{evaluated.stdout[-3000:]}")
    values = dict(re.findall(r"(\w+): ([-\d.e+]+)", line.split("][Avg]", 1)[1]))
    test = {"top1": float(values["top1"]), "nll": float(values["NLL"]), "ece": float(values["ECE"])}
    engine = train.stdout.split("paddleclas-rdrop: ", 1)[-1].split(";", 1)[0]
    return {
        "engine": engine,
        "phase": "test",
        "arm": arm,
        "alpha": alpha,
        "warmup": warmup,
        "seed": seed,
        "train_seconds": train_seconds,
        "test": test,
    }


def plan(results, chosen, seeds=SEEDS):
    done = {(r["arm"], r["seed"]) for r in results}
    return [
        (arm, *(chosen[arm] if arm in chosen else (None, 0)), seed)
        for seed in seeds
        for arm in ARMS
        if (arm, seed) not in done
    ]


def report(results, args):
    lines = [
        f"Machine: {machine()}.",
        f"Results: `{args.results}` (`python benchmarks/views_product.py`; "
        "train seconds measured while other jobs shared the machine).",
        "",
    ]
    lines += views_study.arm_table(results, "train_seconds", "train s / run")
    lines += [""] + views_study.pairs_table(results, SEEDS)
    views_study.plot(results, os.path.join(os.path.dirname(args.results), "views_product.png"), SEEDS)
    publish(lines, os.path.join(os.path.dirname(args.results), "views_product.md"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="SE_ResNet18_vd")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=1, help="math threads per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (accuracy is unaffected)")
    parser.add_argument("--results", default="benchmarks/results/views_product_runs.jsonl")
    parser.add_argument("--phase1", default="benchmarks/results/views_study_runs.jsonl")
    parser.add_argument("--cache", default="output/benchmark_cache", help="phase 1's pretrained weights")
    parser.add_argument("--work", default="output/views_product", help="images, configs, runs")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--quick", action="store_true", help="seed 0, one epoch, in --work/quick: a check that it runs")
    args = parser.parse_args()
    seeds = SEEDS
    if args.quick:
        args.epochs, seeds = 1, SEEDS[:1]
        args.results = os.path.join(args.work, "quick", "views_product_runs.jsonl")
        os.makedirs(os.path.dirname(args.results), exist_ok=True)
    args.quick = False  # phase 1's full pretrained weights either way
    set_threads(args.threads)
    results = accuracy.read_results(args.results)
    if not args.report:
        from concurrent.futures import ThreadPoolExecutor

        chosen = views_study.choose(accuracy.read_results(args.phase1))
        if chosen is None:
            sys.exit("phase 1's selection is not complete: run benchmarks/views_study.py first")
        os.makedirs(args.work, exist_ok=True)
        write_images(os.path.join(args.work, "data"))
        for seed in SEEDS:
            start_checkpoint(args, seed)
        with ThreadPoolExecutor(args.jobs) as pool:  # each run is two tool processes
            for result in pool.map(run, [(args, job) for job in plan(results, chosen, seeds)]):
                results.append(result)
                with open(args.results, "a") as handle:
                    handle.write(json.dumps(result) + "\n")
                print(json.dumps(result), flush=True)
    report(results, args)


if __name__ == "__main__":
    main()
