"""The R-Drop paper's own regime: a pretrained vision transformer with dropout in every block, fine-tuned
on little data, measured with `tools/compare.py`.

    nohup python benchmarks/vit_study.py > vit_study.log 2>&1 &   # resumes from its results files
    python benchmarks/vit_study.py --report                       # the reports from the results files
    python benchmarks/vit_study.py --quick                        # tiny data and epochs: a check that it runs

The setting, declared before any result was read:
- Model: PaddleClas's `DeiT_tiny_patch16_224` built at `img_size: 32` (4 patches of 16 px and the class
  token, 12 blocks of width 192, 5.5M parameters), with its own dropout 0.1 in every block
  (`Arch.drop_rate`, the paper's ViT setting), attention dropout and drop path 0.
- Data: Fashion-MNIST (Debian's `dataset-fashion-mnist`), each 28 px image padded to 32 px with black.
- Pretraining, once, seeded (seed 0), with `tools/train.py`: 10000 training images of classes 0-4
  (2000 per class), 10 epochs, batch 100, AdamW (lr 1e-3, weight decay 0.05, cosine, 1 warm-up epoch),
  random crop (scale 0.85-1) and flip. The weights are kept in the results folder (`pretrained.pdparams`,
  22 MB) with their SHA-256: a resume on weights that differ is refused.
- Fine-tuning task: classes 5-9; 500 training images (100 per class), validation 500 other training
  images, test the 5000 official test images of those classes (the splits of benchmarks/accuracy.py).
  Each seed starts from the pretrained weights with a new 5-class head drawn from the seed.
- Each fine-tuning run is `configs/rdrop_vit.yaml` (or its twin) with: the model above, 15 epochs,
  batch 50, Momentum 0.9, cosine lr 0.01 after 1 warm-up epoch, gradient norm clipped at 1 per
  parameter (the recipe's clip_norm), no weight decay, random crop (scale 0.85-1) and flip.
- Selection on validation (seeds 100-101, rdrop arm, mean val top-1): alpha (per sample, batchmean)
  in {1, 4, 19.2} x `RDrop.alpha_warmup_epochs` in {0, 5}; ties go to the smaller alpha, then no
  warm-up. views_kl uses the same choice.
- Test: seeds 0-9, arms baseline, rdrop, views_ce, views_kl and baseline_long (the baseline for as
  many epochs as match rdrop's measured training time), `tools/compare.py --test-list` on the test
  list. Only this phase reads the test set.
Every compare run is appended to its results file under `benchmarks/results/vit_study/` as it ends;
a restart skips the runs in it.
"""

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402  (Fashion-MNIST and its splits)
from common import check_pretrained  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALPHAS, WARMUPS = (1.0, 4.0, 19.2), (0, 5)
SELECT_SEEDS, TEST_SEEDS = (100, 2), (0, 10)  # (first seed, count)
TEST_ARMS = "baseline,rdrop,views_ce,views_kl,baseline_long"
ARCH = {"name": "DeiT_tiny_patch16_224", "img_size": 32, "class_num": 5, "pretrained": False}


def write_images(root, quick):
    """The pretraining and fine-tuning splits as 32 px PNGs and list files under `root` (once)."""
    import numpy as np
    from PIL import Image

    if os.path.exists(os.path.join(root, "test_list.txt")):
        return
    train_x, train_y = accuracy.fashion_mnist("train")
    data = accuracy.load_data(quick)
    (pre,) = accuracy.per_class(train_y, accuracy.PRETRAIN_CLASSES, [100 if quick else 2000], seed=0)
    data["pretrain"] = (train_x[pre], train_y[pre])
    if quick:
        data = {split: (x[::5], y[::5]) for split, (x, y) in data.items()}
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    for split, (images, labels) in data.items():
        lines = []
        for index, (image, label) in enumerate(zip(images, labels)):
            gray = np.pad(np.round((image[0] * 0.5 + 0.5) * 255).astype(np.uint8), 2)
            name = f"images/{split}_{index:05d}.png"
            Image.fromarray(gray).convert("RGB").save(os.path.join(root, name))
            lines.append(f"{name} {int(label)}\n")
        with open(os.path.join(root, f"{split}_list.txt"), "w") as handle:
            handle.writelines(lines)


def transforms(train):
    ops = [{"DecodeImage": {"to_rgb": True, "channel_first": False}}]
    if train:
        ops += [
            {"RandCropImage": {"size": 32, "scale": [0.85, 1.0], "ratio": [1.0, 1.0]}},
            {"RandFlipImage": {"flip_code": 1}},
        ]
    return ops + [{"NormalizeImage": {"scale": 1.0 / 255.0, "mean": [0.5] * 3, "std": [0.5] * 3, "order": ""}}]


def recipe(args, name, train_list, epochs, batch_size, optimizer):
    """configs/`name` pointed at the study's data, model and schedule, as a dict."""
    from paddleclas_rdrop.tools.data.config_file import read_config

    config = read_config(os.path.join(PROJECT, "configs", name))
    data = os.path.abspath(os.path.join(args.work, "data"))
    config["Global"].update(
        {
            "device": "cpu",
            "epochs": epochs,
            "save_interval": 1000,
            "eval_during_train": False,
            "print_batch_step": 10,
            "image_shape": [3, 32, 32],
            "pretrained_model": None,
        }
    )
    config["Arch"] = {**ARCH, "drop_rate": 0.1, "attn_drop_rate": 0.0, "drop_path_rate": 0.0}
    config["Optimizer"] = optimizer
    loader = {"num_workers": 0, "use_shared_memory": False}
    for split, path, train in (("Train", train_list, True), ("Eval", "val_list.txt", False)):
        config["DataLoader"][split] = {
            "dataset": {
                "name": "ImageNetDataset",
                "image_root": data,
                "cls_label_path": os.path.join(data, path),
                "transform_ops": transforms(train),
            },
            "sampler": {
                "name": "DistributedBatchSampler",
                "batch_size": batch_size,
                "drop_last": train,
                "shuffle": train,
            },
            "loader": loader,
        }
    config["Metric"] = {"Train": [{"TopkAcc": {"topk": [1]}}], "Eval": [{"TopkAcc": {"topk": [1]}}]}
    config["Infer"]["infer_imgs"] = os.path.join(data, "images")
    config["Infer"]["PostProcess"]["class_id_map_file"] = None
    return config


def write_yaml(config, path):
    import yaml

    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


def tool_env(args):
    return {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}


def pretrain(args):
    """The pretrained weights (trained once, then kept in the results folder, so that the study resumes on
    another machine, where a new pretraining gives other floats); their path without suffix."""
    kept = os.path.abspath(os.path.join(args.results, "pretrained"))
    if os.path.exists(kept + ".pdparams"):
        return kept
    out = os.path.abspath(os.path.join(args.work, "pretrain"))
    adamw = {
        "name": "AdamW",
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.05,
        "no_weight_decay_name": "norm cls_token pos_embed",
        "one_dim_param_no_weight_decay": True,
        "lr": {"name": "Cosine", "learning_rate": 1e-3, "warmup_epoch": 1},
    }
    config = recipe(args, "baseline_vit.yaml", "pretrain_list.txt", 1 if args.quick else 10, 100, adamw)
    path = write_yaml(config, os.path.join(args.work, "pretrain.yaml"))
    if os.path.exists(out):
        shutil.rmtree(out)  # a pretraining a stop cut short
    command = [sys.executable, os.path.join(PROJECT, "tools", "train.py"), "-c", path, "-o", f"Global.output_dir={out}"]
    subprocess.run(command + ["-o", "Global.seed=0"], check=True, env=tool_env(args))
    shutil.copyfile(os.path.join(out, "latest.pdparams"), kept + ".pdparams")
    return kept


def start_checkpoints(args, weights, seeds):
    """Per seed, the pretrained weights with a new head drawn from the seed: `start_{seed}.pdparams`."""
    import paddle
    from paddleclas.ppcls.arch import backbone

    state = None
    for seed in seeds:
        path = os.path.join(args.work, f"start_{seed}.pdparams")
        if os.path.exists(path):
            continue
        state = state or paddle.load(weights + ".pdparams")
        paddle.seed(seed)
        with paddle.utils.unique_name.guard():
            fresh = backbone.DeiT_tiny_patch16_224(img_size=32, class_num=5).head.state_dict()
        paddle.save({**state, **{f"head.{key}": value for key, value in fresh.items()}}, path)
    return os.path.abspath(os.path.join(args.work, "start_{seed}"))


def finetune_config(args, start, alpha, warmup):
    """The fine-tuning recipe as a dict: configs/rdrop_vit.yaml on the study's data and schedule (15 epochs, 2
    with --quick; batch 50; Momentum 0.9, gradient norm clipped at 1, cosine lr 0.01 after 1 warm-up epoch),
    each seed starting from `start` (a path with {seed}), RDropLoss weight `alpha`, `warmup` epochs of alpha
    warm-up (benchmarks/robustness_study.py builds its DeiT regime with it too)."""
    momentum = {
        "name": "Momentum",
        "momentum": 0.9,
        "clip_norm": 1.0,
        "lr": {"name": "Cosine", "learning_rate": 0.01, "warmup_epoch": 1},
    }
    config = recipe(args, "rdrop_vit.yaml", "fit_list.txt", 2 if args.quick else 15, 50, momentum)
    config["Global"]["pretrained_model"] = start
    config["Loss"]["Train"][1]["RDropLoss"]["weight"] = alpha
    config["RDrop"]["alpha_warmup_epochs"] = warmup
    return config


def compare(args, finetune_yaml, out, arms, seeds, extra):
    """`tools/compare.py` on the fine-tuning recipe; its results stay in `out`."""
    command = [sys.executable, os.path.join(PROJECT, "tools", "compare.py"), "-c", finetune_yaml, "--out", out]
    command += ["--arms", arms, "--first-seed", str(seeds[0]), "--seeds", str(seeds[1]), *extra]
    subprocess.run(command, check=True, env=tool_env(args))


def selection_out(args, alpha, warmup):
    return os.path.join(args.results, "select", f"alpha{alpha:g}_warmup{warmup}")


def choose(args):
    """The (alpha, warm-up) with the best mean val top-1 of the rdrop arm; None while incomplete."""
    sys.path.insert(0, PROJECT)
    from paddleclas_rdrop.tools.compare.runs import read_results

    means = {}
    for alpha, warmup in itertools.product(ALPHAS, WARMUPS):
        rows = read_results(selection_out(args, alpha, warmup))
        if len(rows) < SELECT_SEEDS[1]:
            return None
        means[(alpha, warmup)] = sum(row["top1"] for row in rows) / len(rows)
    return max(means, key=lambda key: (means[key], -key[0], -key[1])), means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="math threads per tool process")
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/paddleclas-rdrop/vit_study"))
    parser.add_argument("--results", default=os.path.join(PROJECT, "benchmarks", "results", "vit_study"))
    parser.add_argument("--quick", action="store_true", help="tiny data, 1-2 epochs, 2 seeds, in --work/quick")
    parser.add_argument("--report", action="store_true", help="only the reports, from the results files")
    args = parser.parse_args()
    if args.quick:
        args.work, args.results = os.path.join(args.work, "quick"), os.path.join(args.work, "quick", "results")
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.results, exist_ok=True)
    write_images(os.path.join(args.work, "data"), args.quick)
    weights = pretrain(args)
    check_pretrained(weights + ".pdparams", args.results)
    start = start_checkpoints(args, weights, [*range(SELECT_SEEDS[0], sum(SELECT_SEEDS)), *range(*TEST_SEEDS)])
    report = ["--report"] if args.report else []
    for alpha, warmup in itertools.product(ALPHAS, WARMUPS):
        config = finetune_config(args, start, alpha, warmup)
        path = write_yaml(config, os.path.join(args.work, f"finetune_alpha{alpha:g}_warmup{warmup}.yaml"))
        compare(args, path, selection_out(args, alpha, warmup), "rdrop", SELECT_SEEDS, report)
    chosen = choose(args)
    (alpha, warmup), means = chosen
    with open(os.path.join(args.results, "chosen.json"), "w") as handle:
        json.dump(
            {
                "alpha": alpha,
                "alpha_warmup_epochs": warmup,
                "val_top1": {f"{a:g}/{w}": m for (a, w), m in means.items()},
            },
            handle,
            indent=1,
        )
    print(f"chosen on validation: alpha {alpha:g}, warm-up {warmup} epochs", flush=True)
    path = os.path.join(args.work, f"finetune_alpha{alpha:g}_warmup{warmup}.yaml")
    test_list = ["--test-list", os.path.join(args.work, "data", "test_list.txt")]
    compare(
        args,
        path,
        os.path.join(args.results, "test"),
        TEST_ARMS,
        TEST_SEEDS[:1] + (2 if args.quick else 10,),
        test_list + report,
    )


if __name__ == "__main__":
    main()
