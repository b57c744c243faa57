"""Does R-Drop pay once each pass sees its own augmentation? Phase 1 of the study: many paired seeds.

    nohup python benchmarks/views_study.py > views_study.log 2>&1 &   # resumes from its results file
    python benchmarks/views_study.py --report                         # tables and plot from the results
    python benchmarks/views_study.py --quick                          # a few steps of every phase

The setting, declared before any result was read (docs/benchmarks.md, "Each pass its own view"):
- The pretrained model is the one of `benchmarks/accuracy.py`: SE_ResNet18_vd trained on 5000
  Fashion-MNIST images of classes 0-4 (the same cache file and seed).
- Task: its classes 5-9, 500 seeded training images (100 per class), validation 500 other training
  images, test the 5000 official test images of those classes (the same splits as accuracy.py).
- Fine-tuned: the last stage (`bb_3_*`) and a new 5-class classifier. Stages 1-3 are frozen in eval
  mode and run once: their output is cached for V = 16 seeded views of every training image (pad-2
  random crop and flip, the augmentation of accuracy.py), and for the unaugmented val/test images.
  A training sample draws one of its cached views per pass, so a run takes seconds to minutes.
- 40 epochs, batch 50, Momentum 0.9, cosine lr 0.03, L2 5e-4.
- Arms (every arm but the baseline has the same stochastic layers: drop path 0.1 in the last stage,
  linear rule, and dropout 0.1 before the classifier, the shipped recipes' setting):
    baseline     one view, no stochastic layer, CE
    stochastic   one view, CE
    rdrop        one view passed k = 2 times (the paper's R-Drop), mean CE + alpha x symmetric KL
    views_ce     k = 2 views, each its own draw, mean CE (Batch Augmentation: the control)
    views_kl     k = 2 views, each its own draw, mean CE + alpha x symmetric KL
  One seed fixes the classifier's initial weights, the batch order and the first pass's views in
  every arm alike; the second pass's views come from a second stream, the same for views_ce and
  views_kl. KL: `RDropLoss` (`batchmean`, alpha per sample); alpha rises linearly from 0 over the
  first `warmup` epochs (step by step) and then stays.
- Selection, validation only (seeds 100-102, mean val top-1): alpha in {0.3, 1, 3} x warm-up in
  {0, 10} epochs, for rdrop and views_kl each; ties go to the smaller alpha, then no warm-up.
- Test: seeds 0-9, all five arms with the chosen settings; only this phase reads the test set.
  Reported per pair of arms: the paired difference in test top-1, NLL and ECE (15 equal-width bins
  of top-1 confidence) with a 95 % t interval over seeds.

Every run is appended to the results file as it ends; a restart skips the runs in it. The loop is a
plain Paddle loop on the plugin's public API (`add_stochastic_layers`, `RDropLoss`); the k passes
run as one call on the stacked batch, which is `RDrop`'s `concat` strategy.
"""

import argparse
import itertools
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402  (the pretrained model and the splits)
from common import build, machine, publish, set_threads  # noqa: E402

VIEWS = 16
STOCHASTIC = {"drop_path": 0.1, "drop_path_stages": [4], "head_dropout": 0.1}
SELECT_SEEDS, TEST_SEEDS = (100, 101, 102), tuple(range(10))
ALPHAS, WARMUPS = (0.3, 1.0, 3.0), (0, 10)
KL_ARMS = ("rdrop", "views_kl")
ARMS = {  # name: (views per sample, stochastic layers, has KL)
    "baseline": (1, False, False),
    "stochastic": (1, True, False),
    "rdrop": (1, True, True),
    "views_ce": (2, True, False),
    "views_kl": (2, True, True),
}
PAIRS = [
    ("rdrop", "baseline"),
    ("rdrop", "stochastic"),
    ("views_ce", "baseline"),
    ("views_kl", "baseline"),
    ("views_kl", "views_ce"),
    ("views_kl", "rdrop"),
    ("stochastic", "baseline"),
]
FROZEN = ("conv1_1", "conv1_2", "conv1_3", "pool2d_max", "bb_0_0", "bb_0_1", "bb_1_0", "bb_1_1", "bb_2_0", "bb_2_1")
TAIL = ("bb_3_0", "bb_3_1")


def prefix(net, images):
    """The frozen stages 1-3 (eval mode) on `images` `[N, 3, 28, 28]`: `[N, 256, 2, 2]` float32."""
    import numpy as np
    import paddle

    net.eval()
    out = []
    with paddle.no_grad():
        for start in range(0, len(images), 500):
            y = paddle.to_tensor(images[start : start + 500])
            for name in FROZEN:
                y = getattr(net, name)(y)
            out.append(y.numpy())
    return np.concatenate(out)


def tail(net, features):
    """The trained part: the last stage, average pooling and the classifier; logits `[N, classes]`."""
    import paddle

    y = features
    for name in TAIL:
        y = getattr(net, name)(y)
    return net.out(paddle.flatten(net.pool2d_avg(y), 1))


def cache_features(args):
    """Stage-3 features of V views of every training image and of the val/test images (cached)."""
    import numpy as np

    path = os.path.join(args.cache, f"views_{'quick' if args.quick else 'full'}.npz")
    if os.path.exists(path):
        return dict(np.load(path))
    data = accuracy.load_data(args.quick)
    net = pretrained_net(args, seed=0)
    rng = np.random.default_rng(12345)
    fit_x, fit_y = data["fit"]
    views = np.stack([prefix(net, accuracy.augment(fit_x, rng)) for _ in range(VIEWS)])
    arrays = {
        "fit_views": views,
        "fit_y": fit_y,
        "val": prefix(net, data["val"][0]),
        "val_y": data["val"][1],
        "test": prefix(net, data["test"][0]),
        "test_y": data["test"][1],
    }
    np.savez(path, **arrays)
    return arrays


def pretrained_net(args, seed):
    """The pretrained SE_ResNet18_vd with a new 5-class classifier initialised from `seed`."""
    import paddle
    from paddle import nn

    net = build(args.arch, class_num=len(accuracy.PRETRAIN_CLASSES), seed=seed)
    net.set_state_dict(paddle.load(accuracy.pretrain_path(args)))
    paddle.seed(seed)
    net.out = nn.Linear(net.out.weight.shape[0], len(accuracy.FINETUNE_CLASSES))
    return net


def scores(logits, labels, bins=15):
    """top-1, NLL (mean, nats) and ECE (`bins` equal-width bins of the top-1 confidence, Guo et al.
    2017) of `logits` `[N, C]` against integer `labels` `[N]`."""
    import numpy as np

    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    confidence, predicted = np.exp(log_p.max(axis=1)), log_p.argmax(axis=1)
    correct = predicted == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = sum(
        abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
        for b in range(bins)
        if (which == b).any()
    )
    return {
        "top1": float(correct.mean()),
        "nll": float(-log_p[np.arange(len(labels)), labels].mean()),
        "ece": float(ece),
    }


def evaluate(net, features, labels):
    import numpy as np
    import paddle

    net.eval()
    with paddle.no_grad():
        logits = np.concatenate(
            [tail(net, paddle.to_tensor(features[s : s + 1000])).numpy() for s in range(0, len(features), 1000)]
        )
    net.train()
    return scores(logits, labels)


def run(job):
    """One fine-tuning run: validation metrics, and the test metrics in the test phase."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    from paddleclas_rdrop import RDropLoss, add_stochastic_layers

    args, (phase, arm, alpha, warmup, seed) = job
    set_threads(args.threads)
    paddle.set_device("cpu")
    arrays = cache_features(args)
    views, stochastic, has_kl = ARMS[arm]
    net = pretrained_net(args, seed)
    for name in FROZEN:
        for param in getattr(net, name).parameters():
            param.stop_gradient = True
    if stochastic:
        add_stochastic_layers(net, **STOCHASTIC)
    kl = RDropLoss(passes=2) if has_kl else None
    passes = 2 if has_kl or views == 2 else 1
    epochs = 2 if args.quick else args.epochs
    fit, fit_y = arrays["fit_views"], arrays["fit_y"]
    steps = fit.shape[1] // args.batch_size
    params = [p for name in TAIL + ("out",) for p in getattr(net, name).parameters()]
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=epochs * steps)
    optimizer = paddle.optimizer.Momentum(
        schedule, momentum=0.9, parameters=params, weight_decay=paddle.regularizer.L2Decay(5e-4)
    )
    order_rng, view_rng = np.random.default_rng(seed), np.random.default_rng(seed + 10_000)
    net.train()
    for name in FROZEN:
        getattr(net, name).eval()
    kl_share, start = [], time.process_time()
    for epoch in range(epochs):
        order = order_rng.permutation(fit.shape[1])
        for step in range(steps):
            index = order[step * args.batch_size : (step + 1) * args.batch_size]
            first = order_rng.integers(0, VIEWS, size=len(index))
            second = view_rng.integers(0, VIEWS, size=len(index)) if views == 2 else first
            stack = [fit[first, index]] + ([fit[second, index]] if passes == 2 else [])
            logits = tail(net, paddle.to_tensor(np.concatenate(stack)))
            labels = paddle.to_tensor(np.tile(fit_y[index], passes)[:, None])
            loss = F.cross_entropy(logits, labels)
            if kl is not None:
                ramp = min(1.0, (epoch * steps + step) / (warmup * steps)) if warmup else 1.0
                weighted = alpha * ramp * kl(logits)["RDropLoss"]
                loss = loss + weighted
                kl_share.append(float(weighted) / float(loss))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
    result = {
        "phase": phase,
        "arm": arm,
        "alpha": alpha,
        "warmup": warmup,
        "seed": seed,
        "cpu_seconds": time.process_time() - start,
        "epochs": epochs,
        "kl_share": statistics.mean(kl_share) if kl_share else None,
        "train": evaluate(net, fit[0], fit_y),
        "val": evaluate(net, arrays["val"], arrays["val_y"]),
    }
    if phase == "test":
        result["test"] = evaluate(net, arrays["test"], arrays["test_y"])
    return result


def key(phase, arm, alpha, warmup, seed):
    return f"{phase}/{arm}/{alpha}/{warmup}/{seed}"


def choose(results):
    """Per KL arm, the (alpha, warm-up) with the best mean validation top-1 over the selection seeds;
    None while the selection is incomplete."""
    chosen = {}
    for arm in KL_ARMS:
        means = {}
        for alpha, warmup in itertools.product(ALPHAS, WARMUPS):
            runs = [
                r
                for r in results
                if r["phase"] == "select" and r["arm"] == arm and r["alpha"] == alpha and r["warmup"] == warmup
            ]
            if len(runs) < len(SELECT_SEEDS):
                return None
            means[(alpha, warmup)] = statistics.mean(r["val"]["top1"] for r in runs)
        chosen[arm] = max(means, key=lambda s: (means[s], -s[0], -s[1]))
    return chosen


def plan(results, quick=False):
    """The runs still to do: the selection (and the other arms on the same seeds, for reference),
    then, once it is complete, the test phase with the chosen settings."""
    done = {key(r["phase"], r["arm"], r["alpha"], r["warmup"], r["seed"]) for r in results}
    select_seeds = SELECT_SEEDS[:1] if quick else SELECT_SEEDS
    todo = [("select", arm, None, 0, seed) for seed in select_seeds for arm in ARMS if not ARMS[arm][2]]
    todo += [
        ("select", arm, alpha, warmup, seed)
        for seed in select_seeds
        for arm in KL_ARMS
        for alpha, warmup in itertools.product(ALPHAS, WARMUPS)
    ]
    todo = [job for job in todo if key(*job) not in done]
    if todo:
        return todo
    chosen = choose(results) if not quick else {arm: (1.0, 0) for arm in KL_ARMS}
    todo = [
        ("test", arm, *(chosen[arm] if arm in chosen else (None, 0)), seed)
        for seed in (TEST_SEEDS[:1] if quick else TEST_SEEDS)
        for arm in ARMS
    ]
    return [job for job in todo if key(*job) not in done]


def paired(results, a, b, metric, seeds=TEST_SEEDS):
    """Paired differences a - b in the test phase over the `seeds` both have: (mean, half-width of the
    95 % t interval, n) in points (top-1, ECE) or nats (NLL)."""
    from scipy import stats

    by = {(r["arm"], r["seed"]): r["test"][metric] for r in results if r["phase"] == "test"}
    scale = 1 if metric == "nll" else 100
    diffs = [(by[(a, s)] - by[(b, s)]) * scale for s in seeds if (a, s) in by and (b, s) in by]
    if len(diffs) < 2:
        return None
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return statistics.mean(diffs), half, len(diffs)


def interval(metric, cell):
    """`mean [low, high]` of a `paired` cell (4 decimals for NLL, 2 for points)."""
    mean, half, _ = cell
    digits = 4 if metric == "nll" else 2
    return f"{mean:+.{digits}f} [{mean - half:+.{digits}f}, {mean + half:+.{digits}f}]"


def arm_table(runs, seconds_key, seconds_title):
    """Markdown rows: per arm, the mean test top-1, NLL, ECE and `seconds_key` over its runs."""
    lines = [f"| arm | seeds | test top-1 % | test NLL | test ECE % | {seconds_title} |", "|---|---|---|---|---|---|"]
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if mine:
            m = lambda metric, s=100: statistics.mean(r["test"][metric] for r in mine) * s  # noqa: E731
            lines.append(
                f"| {arm} | {len(mine)} | {m('top1'):.2f} | {m('nll', 1):.4f} | {m('ece'):.2f} | "
                f"{statistics.mean(r[seconds_key] for r in mine):.0f} |"
            )
    return lines


def pairs_table(results, seeds=TEST_SEEDS):
    """Markdown rows: for each of `PAIRS` with two or more common `seeds`, the paired differences."""
    lines = ["| a - b | seeds | top-1 (points) | NLL (nats) | ECE (points) |", "|---|---|---|---|---|"]
    for a, b in PAIRS:
        cells = [paired(results, a, b, m, seeds) for m in ("top1", "nll", "ece")]
        if all(cells):
            lines.append(
                f"| {a} - {b} | {cells[0][2]} | "
                + " | ".join(interval(m, cell) for m, cell in zip(("top1", "nll", "ece"), cells))
                + " |"
            )
    return lines


def report(results, args):
    lines = [
        f"Machine: {machine()}.",
        f"Results: `{args.results}` (`python benchmarks/views_study.py --jobs 2`: two runs at a time, "
        f"{args.threads} math thread each).",
        "",
    ]
    lines += [
        "Selection (validation top-1 %, mean over seeds "
        f"{', '.join(map(str, SELECT_SEEDS))}; alpha x KL / loss in brackets):",
        "",
        "| arm | alpha | warm-up epochs | val top-1 % | val NLL | val ECE % | train top-1 % |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = {}
    for r in results:
        if r["phase"] == "select":
            groups.setdefault((r["arm"], r["alpha"], r["warmup"]), []).append(r)
    for (arm, alpha, warmup), runs in groups.items():
        mean = lambda part, m, s=100: statistics.mean(r[part][m] for r in runs) * s  # noqa: E731
        share = f" ({statistics.mean(r['kl_share'] for r in runs) * 100:.0f} %)" if runs[0]["kl_share"] else ""
        lines.append(
            f"| {arm} | {alpha if alpha is not None else '-'} | {warmup} | {mean('val', 'top1'):.2f}{share} | "
            f"{mean('val', 'nll', 1):.3f} | {mean('val', 'ece'):.2f} | {mean('train', 'top1'):.1f} |"
        )
    chosen = choose(results)
    if chosen:
        lines += [
            "",
            "Chosen on validation: "
            + "; ".join(f"{arm} alpha {a}, warm-up {w} epochs" for arm, (a, w) in chosen.items())
            + ".",
        ]
    test = [r for r in results if r["phase"] == "test"]
    if test:
        lines += [
            "",
            "Test (5000 official test images of classes 5-9), per arm: mean over seeds, CPU seconds "
            "per run (process time, measured while other jobs shared the machine):",
            "",
        ]
        lines += arm_table(test, "cpu_seconds", "CPU s / run")
        lines += ["", "Paired differences (a - b), mean and 95 % t interval over seeds:", ""]
        lines += pairs_table(results)
        plot(results, os.path.join(os.path.dirname(args.results), "views_study.png"))
    publish(lines, os.path.join(os.path.dirname(args.results), "views_study.md"))


def plot(results, path, seeds=TEST_SEEDS):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, metric, unit in zip(axes, ("top1", "nll", "ece"), ("points", "nats", "points")):
        rows = [(f"{a}\n- {b}", paired(results, a, b, metric, seeds)) for a, b in PAIRS]
        rows = [(label, cell) for label, cell in rows if cell]
        ax.errorbar([c[0] for _, c in rows], range(len(rows)), xerr=[c[1] for _, c in rows], fmt="o", capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
        ax.set_xlabel(f"test {metric} difference ({unit}), 95 % CI")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="SE_ResNet18_vd")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=1, help="math threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (accuracy is unaffected)")
    parser.add_argument("--results", default="benchmarks/results/views_study_runs.jsonl")
    parser.add_argument("--cache", default="output/benchmark_cache", help="pretrained weights and features")
    parser.add_argument("--quick", action="store_true", help="tiny data and epochs: a check that it runs")
    parser.add_argument("--report", action="store_true", help="only write the report from the results file")
    args = parser.parse_args()
    if args.quick:
        args.results = os.path.join(args.cache, "quick", "views_study_runs.jsonl")
    set_threads(args.threads)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    results = accuracy.read_results(args.results)
    if not args.report:
        import multiprocessing

        import paddle

        paddle.set_device("cpu")
        if accuracy.pretrain(args, accuracy.load_data(args.quick)) is not None:
            print("pretrained", accuracy.pretrain_path(args), flush=True)
        cache_features(args)
        pool = multiprocessing.get_context("spawn").Pool(args.jobs)
        while todo := plan(results, args.quick):
            for result in pool.imap_unordered(run, [(args, job) for job in todo]):
                results.append(result)
                with open(args.results, "a") as handle:
                    handle.write(json.dumps(result) + "\n")
                print(json.dumps(result), flush=True)
        pool.close()
        pool.join()
    report(results, args)


if __name__ == "__main__":
    main()
