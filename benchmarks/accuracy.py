"""Does R-Drop generalise better? Fine-tuning a pretrained SE-ResNet on a small Fashion-MNIST task.

    nohup python benchmarks/accuracy.py > accuracy.log 2>&1 &   # resumes from its results file
    python benchmarks/accuracy.py --report                      # the report and plot from it
    python benchmarks/accuracy.py --quick                       # a few steps of every phase

The setting, declared before any result was read (see docs/benchmarks.md):
- Pretrain (once, shared by every arm and seed): SE_ResNet18_vd on 5000 seeded Fashion-MNIST
  training images of classes 0-4 (tops: T-shirt, trouser, pullover, dress, coat), no stochastic
  layer, plain CE, 6 epochs, batch 128, lr 0.1.
- Fine-tune: its trunk, with a new 5-class classifier, on 500 seeded training images (100 per
  class) of classes 5-9 (sandal, shirt, sneaker, bag, ankle boot). Validation: 500 other training
  images of those classes (never the test set). Test: all 5000 official test images of classes 5-9.
  30 epochs, batch 50, Momentum 0.9, cosine lr 0.03, L2 5e-4, pad-2 random crop and flip.
- Arms differ only in the fine-tuning: baseline (no stochastic layer), stochastic (drop path +
  head dropout), rdrop (the same stochastic layers, two passes, CE + alpha x symmetric KL,
  `batchmean`). One seed fixes the classifier's initial weights, batch order, augmentation and
  masks of all arms alike.
- Sweep (seed 100, read on validation only): alpha in {1, 3, 10} with drop path 0.1 in all
  stages + head dropout 0.1, and alpha 3 with drop path in the last stage only. The rdrop
  setting with the best validation top-1 (ties: the smaller alpha) and its stochastic layers are
  then run with seeds 0-4 in all three arms, and only then is the test set read.

Every run is appended to the results file as soon as it ends; a restart skips the runs in it.
The loop is a plain Paddle loop on the plugin's public API (`RDrop`, `RDropLoss`,
`add_stochastic_layers`).
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import build, machine, publish, set_threads  # noqa: E402

PRETRAIN_CLASSES, FINETUNE_CLASSES = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
SWEEP_SEED, SEEDS = 100, (0, 1, 2, 3, 4)
ALL_STAGES, LAST_STAGE = [1, 2, 3, 4], [4]
SWEEP = [  # (name, alpha, drop_path, drop_path_stages, head_dropout)
    ("rdrop_a1", 1.0, 0.1, ALL_STAGES, 0.1),
    ("rdrop_a3", 3.0, 0.1, ALL_STAGES, 0.1),
    ("rdrop_a10", 10.0, 0.1, ALL_STAGES, 0.1),
    ("rdrop_a3_last_stage", 3.0, 0.1, LAST_STAGE, 0.1),
]


def fashion_mnist(split):
    import numpy as np

    from paddleclas_rdrop.tools.data.demo import FASHION_MNIST_DIR, read_idx

    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(FASHION_MNIST_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION_MNIST_DIR, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (images.astype(np.float32) / 255.0 - 0.5) / 0.5
    return np.repeat(x[:, None], 3, axis=1), labels  # grayscale as 3 channels, NCHW


def per_class(labels, classes, counts, seed):
    """Disjoint seeded index sets with `counts[i]` images of each class, classes renumbered 0.."""
    import numpy as np

    rng = np.random.default_rng(seed)
    picks = [[] for _ in counts]
    for cls in classes:
        order = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for pick, count in zip(picks, counts):
            pick.extend(order[start : start + count])
            start += count
    return [np.sort(np.asarray(p)) for p in picks]


def load_data(quick):
    import numpy as np

    train_x, train_y = fashion_mnist("train")
    test_x, test_y = fashion_mnist("test")
    renumber = {c: i for i, c in enumerate(FINETUNE_CLASSES)}
    (pre,) = per_class(train_y, PRETRAIN_CLASSES, [200 if quick else 1000], seed=0)
    fit, val = per_class(train_y, FINETUNE_CLASSES, [100, 100], seed=1)
    test = np.flatnonzero(np.isin(test_y, FINETUNE_CLASSES))[: 500 if quick else None]
    relabel = np.vectorize(renumber.get)
    return {
        "pretrain": (train_x[pre], train_y[pre]),
        "fit": (train_x[fit], relabel(train_y[fit])),
        "val": (train_x[val], relabel(train_y[val])),
        "test": (test_x[test], relabel(test_y[test])),
    }


def augment(images, rng):
    """Pad-2 random crop and horizontal flip, per image."""
    import numpy as np

    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="constant", constant_values=-1.0)
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(0, 5, size=(len(images), 2))):
        out[i] = padded[i, :, dy : dy + 28, dx : dx + 28]
    flip = rng.random(len(images)) < 0.5
    out[flip] = out[flip, :, :, ::-1]
    return out


def accuracy(model, data, batch_size=250):
    import paddle

    images, labels = data
    model.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(paddle.to_tensor(images[start : start + batch_size]))
            correct += int((logits.argmax(axis=1).numpy() == labels[start : start + batch_size]).sum())
    model.train()
    return correct / len(images)


def train(model, data, epochs, batch_size, lr, seed, arm=None, eval_data=None, eval_every=5):
    """Momentum 0.9, cosine lr, L2 5e-4; `arm` = None (plain) or its settings dict."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    from paddleclas_rdrop import RDrop, RDropLoss, add_stochastic_layers

    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    images, labels = data
    model.train()
    rdrop = None
    stochastic = {key: arm[key] for key in ("drop_path", "drop_path_stages", "head_dropout")} if arm else {}
    if arm and arm["alpha"] is not None:
        rdrop = RDrop(model, **stochastic)
        kl = RDropLoss(passes=2)
    elif arm:
        add_stochastic_layers(model, **stochastic)
    steps = len(images) // batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=epochs * steps)
    optimizer = paddle.optimizer.Momentum(
        schedule, momentum=0.9, parameters=model.parameters(), weight_decay=paddle.regularizer.L2Decay(5e-4)
    )
    curve, kl_share = [], []
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        for step in range(steps):
            index = order[step * batch_size : (step + 1) * batch_size]
            x = paddle.to_tensor(augment(images[index], rng))
            y = paddle.to_tensor(labels[index][:, None])
            if rdrop is None:
                loss = F.cross_entropy(model(x), y)
            else:
                out = rdrop(x)
                ce = F.cross_entropy(out, rdrop.repeat_labels(y))
                weighted_kl = arm["alpha"] * kl(out, None)["RDropLoss"]
                loss = ce + weighted_kl
                kl_share.append(float(weighted_kl) / float(loss))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
        if eval_data is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            curve.append((epoch + 1, accuracy(model, eval_data)))
    if rdrop is not None:
        rdrop.remove()
    return {"curve": curve, "kl_share": statistics.mean(kl_share) if kl_share else None}


def pretrain_path(args):
    return os.path.join(args.cache, f"pretrain_{'quick' if args.quick else 'full'}.pdparams")


def pretrain(args, data):
    """Pretrain SE_ResNet18_vd on classes 0-4 (cached under --cache; one seed, so deterministic);
    returns its record, or None if the cache has it already."""
    import numpy as np
    import paddle

    if os.path.exists(pretrain_path(args)):
        return None
    model = build(args.arch, class_num=len(PRETRAIN_CLASSES), seed=0)
    start = time.perf_counter()
    train(model, data["pretrain"], epochs=1 if args.quick else 6, batch_size=128, lr=0.1, seed=0)
    seconds = time.perf_counter() - start
    os.makedirs(args.cache, exist_ok=True)
    paddle.save(model.state_dict(), pretrain_path(args))
    test_x, test_y = fashion_mnist("test")
    keep = np.flatnonzero(np.isin(test_y, PRETRAIN_CLASSES))
    return {
        "phase": "pretrain",
        "name": "pretrain",
        "seed": 0,
        "train_seconds": seconds,
        "test_top1": accuracy(model, (test_x[keep], test_y[keep])),
    }


def finetune(job):
    """One fine-tuning run; its validation and test top-1 (the test only in the seeds phase)."""
    import paddle
    from paddle import nn

    args, (phase, name, arm, seed) = job
    set_threads(args.threads)
    paddle.set_device("cpu")
    data = load_data(args.quick)
    model = build(args.arch, class_num=len(PRETRAIN_CLASSES), seed=seed)
    model.set_state_dict(paddle.load(pretrain_path(args)))
    paddle.seed(seed)  # the new classifier's initial weights, the same in every arm of a seed
    model.out = nn.Linear(model.out.weight.shape[0], len(FINETUNE_CLASSES))
    start = time.perf_counter()
    trained = train(
        model,
        data["fit"],
        epochs=2 if args.quick else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=seed,
        arm=arm,
        eval_data=data["val"],
    )
    seconds = time.perf_counter() - start
    result = {
        "phase": phase,
        "name": name,
        "seed": seed,
        **arm,
        "train_seconds": seconds,
        "val_top1": accuracy(model, data["val"]),
        "val_curve": trained["curve"],
        "kl_share": trained["kl_share"],
        "train_top1": accuracy(model, data["fit"]),
    }
    if phase == "seeds":
        result["test_top1"] = accuracy(model, data["test"])
    return result


def arm_settings(alpha, drop_path, stages, head_dropout):
    return {"alpha": alpha, "drop_path": drop_path, "drop_path_stages": stages, "head_dropout": head_dropout}


BASELINE = arm_settings(None, 0.0, ALL_STAGES, 0.0)


def plan(results, quick=False):
    """The runs still to do, in order: the sweep, then (once it is complete) the seeds."""
    done = {(r["phase"], r["name"], r["seed"]) for r in results}
    sweep = [("baseline", BASELINE)] + [(n, arm_settings(a, d, s, h)) for n, a, d, s, h in SWEEP]
    sweep += [("stochastic", arm_settings(None, 0.1, ALL_STAGES, 0.1))]
    todo = [("sweep", name, arm, SWEEP_SEED) for name, arm in sweep if ("sweep", name, SWEEP_SEED) not in done]
    if todo:
        return todo, None
    chosen = choose(results)
    stochastic = {**chosen, "alpha": None}
    arms = [("baseline", BASELINE), ("stochastic", stochastic), ("rdrop", chosen)]
    return [
        ("seeds", name, arm, seed)
        for seed in (SEEDS[:1] if quick else SEEDS)
        for name, arm in arms
        if ("seeds", name, seed) not in done
    ], chosen


def choose(results):
    """The rdrop sweep setting with the best validation top-1; ties go to the smaller alpha."""
    sweep = [r for r in results if r["phase"] == "sweep" and r["alpha"] is not None]
    best = max(sweep, key=lambda r: (r["val_top1"], -r["alpha"]))
    return arm_settings(best["alpha"], best["drop_path"], best["drop_path_stages"], best["head_dropout"])


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def report(results, args):
    """docs-ready markdown and a plot from the results file."""
    lines = [
        f"Machine: {machine()}.",
        f"Results: `{args.results}`, written by `python benchmarks/accuracy.py` "
        f"(two runs at a time, one math thread each; train seconds measured while other jobs ran).",
        "",
    ]
    meta = [r for r in results if r["phase"] == "pretrain"]
    if meta:
        lines.append(
            f"Pretrain: {meta[0]['train_seconds']:.0f} s, top-1 {meta[0]['test_top1'] * 100:.2f} % "
            f"on the official test images of classes 0-4."
        )
    lines += [
        "",
        "Sweep (seed 100, validation split, 500 images):",
        "",
        "| run | alpha | drop path | stages | head dropout | val top-1 % | train top-1 % "
        "| alpha x KL / loss | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in results if r["phase"] == "sweep"):
        share = f"{r['kl_share'] * 100:.1f} %" if r["kl_share"] is not None else "-"
        lines.append(
            f"| {r['name']} | {r['alpha'] if r['alpha'] is not None else '-'} | {r['drop_path']} | "
            f"{r['drop_path_stages'] if r['drop_path'] else '-'} | {r['head_dropout']} | "
            f"{r['val_top1'] * 100:.2f} | {r['train_top1'] * 100:.1f} | {share} | {r['train_seconds']:.0f} |"
        )
    seeds = [r for r in results if r["phase"] == "seeds"]
    if seeds:
        chosen = next(r for r in seeds if r["name"] == "rdrop") if any(r["name"] == "rdrop" for r in seeds) else None
        if chosen:
            lines += [
                "",
                f"Chosen on validation: alpha {chosen['alpha']}, drop path {chosen['drop_path']} in "
                f"stages {chosen['drop_path_stages']}, head dropout {chosen['head_dropout']}.",
            ]
        by_seed = {}
        for r in seeds:
            by_seed.setdefault(r["seed"], {})[r["name"]] = r
        complete = {s: v for s, v in sorted(by_seed.items()) if len(v) == 3}
        lines += [
            "",
            "Seeds (test: the 5000 official test images of classes 5-9):",
            "",
            "| seed | baseline % | stochastic % | rdrop % | rdrop - baseline | rdrop - stochastic "
            "| train s (b / s / r) |",
            "|---|---|---|---|---|---|---|",
        ]
        for seed, arms in complete.items():
            b, s, r = (arms[n]["test_top1"] * 100 for n in ("baseline", "stochastic", "rdrop"))
            t = " / ".join(f"{arms[n]['train_seconds']:.0f}" for n in ("baseline", "stochastic", "rdrop"))
            lines.append(f"| {seed} | {b:.2f} | {s:.2f} | {r:.2f} | {r - b:+.2f} | {r - s:+.2f} | {t} |")
        if len(complete) >= 2:
            for other in ("baseline", "stochastic"):
                diffs = [(v["rdrop"]["test_top1"] - v[other]["test_top1"]) * 100 for v in complete.values()]
                mean, std = statistics.mean(diffs), statistics.stdev(diffs)
                verdict = "above" if mean > std else "NOT above"
                lines.append(
                    f"\nR-Drop - {other}, paired over {len(diffs)} seeds: {mean:+.2f} +- {std:.2f} points "
                    f"(mean +- std): {verdict} the paired spread."
                )
        plot(complete, os.path.join(os.path.dirname(args.results), "accuracy.png"))
    publish(lines, os.path.join(os.path.dirname(args.results), "accuracy.md"))


def plot(complete, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not complete:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    seeds = list(complete)
    for offset, other in enumerate(("baseline", "stochastic")):
        diffs = [(complete[s]["rdrop"]["test_top1"] - complete[s][other]["test_top1"]) * 100 for s in seeds]
        axes[0].bar([i + 0.4 * offset for i in range(len(seeds))], diffs, width=0.4, label=f"rdrop - {other}")
    axes[0].axhline(0, color="black", linewidth=0.8)
    axes[0].set_xticks([i + 0.2 for i in range(len(seeds))], [f"seed {s}" for s in seeds])
    axes[0].set_ylabel("test top-1 difference (points)")
    axes[0].legend()
    for name in ("baseline", "stochastic", "rdrop"):
        curves = [complete[s][name]["val_curve"] for s in seeds]
        epochs = [e for e, _ in curves[0]]
        axes[1].plot(
            epochs, [statistics.mean(c[i][1] for c in curves) * 100 for i in range(len(epochs))], marker="o", label=name
        )
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("validation top-1 % (mean over seeds)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="SE_ResNet18_vd")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs")
    parser.add_argument("--batch-size", type=int, default=50, help="fine-tuning batch (500 images: 10 steps)")
    parser.add_argument("--lr", type=float, default=0.03, help="fine-tuning lr")
    parser.add_argument("--threads", type=int, default=1, help="math threads per run")
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="runs at a time (their accuracy is unaffected; their times then are not comparable)",
    )
    parser.add_argument("--results", default="benchmarks/results/accuracy_runs.jsonl")
    parser.add_argument("--cache", default="output/benchmark_cache", help="where the pretrained weights go")
    parser.add_argument("--quick", action="store_true", help="tiny data and epochs: a check that it runs")
    parser.add_argument("--report", action="store_true", help="only write the report from the results file")
    args = parser.parse_args()
    if args.quick:
        args.results = os.path.join(args.cache, "quick", "accuracy_runs.jsonl")
    set_threads(args.threads)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    results = read_results(args.results)
    if not args.report:
        import multiprocessing

        import paddle

        paddle.set_device("cpu")
        record = pretrain(args, load_data(args.quick))
        if record is not None:
            results.append(record)
            _append(args.results, record)
        pool = multiprocessing.get_context("spawn").Pool(args.jobs)
        while True:
            todo, _ = plan(results, args.quick)
            if not todo:
                break
            for result in pool.imap_unordered(finetune, [(args, job) for job in todo]):
                results.append(result)
                _append(args.results, result)
                print(json.dumps({k: v for k, v in result.items() if k != "val_curve"}), flush=True)
        pool.close()
    report(results, args)


def _append(path, record):
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
