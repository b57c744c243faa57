"""What an R-Drop training step costs, as ratios to a one-pass step measured in the same run.

    python benchmarks/cost.py                  # the strategies: both backbones, 64 and 128 px, batch 16
    python benchmarks/cost.py --by-randomness  # where the randomness is: head, last stage(s), all stages
    python benchmarks/cost.py --per-pass-views # R-Drop with a view per pass, and its CE-only control
    python benchmarks/cost.py --quick          # one backbone, 64 px, few repetitions

`--by-randomness` compares, for each place of the stochastic layers (head dropout 0.1 alone; plus
drop path 0.1 in the last stage, the last two, all four), an R-Drop step (`auto`: the deterministic
prefix once) with a one-pass step with the same stochastic layers.

Every variant (baseline, separate, concat, shared_trunk) steps its own copy of the model (same
weights, own optimizer), interleaved in one process after warm-up, in a new random order each
round; medians are reported. A step is forward + loss + backward + Momentum step. Step memory is
the peak of Paddle's host allocator during the step minus what was allocated before it
(activations, gradients, temporaries); the weights and optimizer state are not in it.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import build, machine, set_threads  # noqa: E402

VARIANTS = ("baseline", "separate", "concat", "shared_trunk")
PLACES = {"head": [], "last stage": [4], "last two stages": [3, 4], "all stages": [1, 2, 3, 4]}


def strategy_variants(head_dropout):
    """name -> (strategy, stochastic layers); the baseline (strategy None) is one pass."""
    return {
        variant: (None if variant == "baseline" else variant, {"head_dropout": head_dropout}) for variant in VARIANTS
    }


def place_variants(head_dropout=0.1, drop_path=0.1):
    """For each place of the randomness: one pass, and R-Drop (auto), with the same stochastic layers."""
    variants = {}
    for place, stages in PLACES.items():
        layers = {
            "head_dropout": head_dropout,
            **({"drop_path": drop_path, "drop_path_stages": stages} if stages else {}),
        }
        variants[f"{place}: one pass"] = (None, layers)
        variants[f"{place}: R-Drop"] = ("auto", layers)
    return variants


def view_variants(head_dropout=0.1, drop_path=0.1):
    """The recipes' stochastic layers (head dropout, drop path in the last stage): one pass; R-Drop on one
    view (`auto`); R-Drop with a view per pass; two views with CE only."""
    layers = {"head_dropout": head_dropout, "drop_path": drop_path, "drop_path_stages": [4]}
    return {
        "one pass": (None, layers),
        "R-Drop, one view": ("auto", layers),
        "R-Drop, a view per pass": ("views", layers),
        "two views, CE only": ("views_ce", layers),
    }


def make_step(model, strategy, layers, alpha=0.6):
    """A training step on `model`: one pass with the stochastic `layers` (strategy None), R-Drop
    (a strategy), or R-Drop with a view per pass (`views`; `views_ce` without the KL term)."""
    import paddle
    import paddle.nn.functional as F

    from paddleclas_rdrop import RDrop, RDropLoss, add_stochastic_layers

    if strategy in ("views", "views_ce"):
        rdrop, kl = RDrop(model, augment_per_pass=True, **layers), RDropLoss(passes=2)
        optimizer = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters())
        views = {}

        def step(images, labels):
            if "batch" not in views:  # two views per sample along the channels: the image and its mirror
                views["batch"] = paddle.concat([images, images.flip(axis=3)], axis=1)
            out = rdrop(views["batch"])
            loss = F.cross_entropy(out, rdrop.repeat_labels(labels))
            if strategy == "views":
                loss = loss + alpha * kl(out, None)["RDropLoss"]
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()

        return step

    optimizer = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters())
    if strategy is None:
        add_stochastic_layers(model, **layers)

        def step(images, labels):
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()

        return step
    rdrop = RDrop(model, strategy=strategy, **layers)
    kl = RDropLoss(passes=2)

    def step(images, labels):
        out = rdrop(images)
        loss = F.cross_entropy(out, rdrop.repeat_labels(labels)) + alpha * kl(out, None)["RDropLoss"]
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()

    return step


def batch(size, image_size):
    import numpy as np
    import paddle

    from paddleclas_rdrop.tools.data.demo import digits_images

    images, labels = digits_images(size=image_size, count=size)
    x = ((images.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
    return paddle.to_tensor(x), paddle.to_tensor(labels[:, None])


def measure_variants(arch, image_size, batch_size, rounds, variants):
    """Median seconds and step memory (MiB) of each variant, interleaved, each on its own model."""
    import random
    import statistics

    from paddle.base import core

    images, labels = batch(batch_size, image_size)
    steps = {}
    for variant, (strategy, layers) in variants.items():
        model = build(arch)
        model.train()
        steps[variant] = make_step(model, strategy, layers)
    times = {variant: [] for variant in variants}
    memory = {variant: [] for variant in variants}
    order = list(variants)
    for round_index in range(rounds + 2):  # the first two rounds warm up
        random.Random(round_index).shuffle(order)
        for variant in order:
            before = core.host_memory_stat_current_value("Allocated", 0)
            core.host_memory_stat_reset_peak_value("Allocated", 0)
            start = time.perf_counter()
            steps[variant](images, labels)
            elapsed = time.perf_counter() - start
            if round_index >= 2:
                times[variant].append(elapsed)
                memory[variant].append((core.host_memory_stat_peak_value("Allocated", 0) - before) / 2**20)
    return (
        {variant: statistics.median(values) for variant, values in times.items()},
        {variant: statistics.median(values) for variant, values in memory.items()},
    )


def chart(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['arch'].replace('_vd_26w_4s', '').replace('_vd', '')}\n{r['image_size']} px" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    width = 0.2
    for axis, key, title in (
        (axes[0], "time_ratio", "step time / baseline"),
        (axes[1], "memory_ratio", "step memory / baseline"),
    ):
        for i, variant in enumerate(VARIANTS):
            values = [r[variant][key] for r in rows]
            axis.bar([x + (i - 1.5) * width for x in range(len(rows))], values, width, label=variant)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.axhline(1.1, color="grey", linewidth=0.8, linestyle="--")
        axis.set_xticks(range(len(rows)), labels)
        axis.set_title(title)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(VARIANTS))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["Res2Net50_vd_26w_4s", "SE_ResNet50_vd"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--head-dropout", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--by-randomness",
        action="store_true",
        help="R-Drop vs one pass for each place of the stochastic layers (128 px)",
    )
    parser.add_argument(
        "--per-pass-views",
        action="store_true",
        help="R-Drop with a view per pass and its CE-only control, against one pass and R-Drop on one view",
    )
    parser.add_argument("--quick", action="store_true", help="one backbone, 64 px, 3 rounds")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    if args.by_randomness:
        return by_randomness(args)
    if args.per_pass_views:
        return per_pass_views(args)
    if args.quick:
        args.archs, args.sizes, args.rounds = args.archs[:1], [64], 3
    set_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for arch in args.archs:
        for size in args.sizes:
            seconds, memory = measure_variants(
                arch, size, args.batch_size, args.rounds, strategy_variants(args.head_dropout)
            )
            row = {"arch": arch, "image_size": size}
            for variant in VARIANTS:
                row[variant] = {
                    "seconds": seconds[variant],
                    "time_ratio": seconds[variant] / seconds["baseline"],
                    "memory_mib": memory[variant],
                    "memory_ratio": memory[variant] / memory["baseline"],
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = header(
        args,
        f"head dropout {args.head_dropout}",
        ["backbone", "px", "variant", "step (s)", "time / baseline", "step memory (MiB)", "memory / baseline"],
    )
    for row in rows:
        for variant in VARIANTS:
            v = row[variant]
            lines.append(
                f"| {row['arch']} | {row['image_size']} | {variant} | {v['seconds']:.3f} | "
                f"{v['time_ratio']:.2f}x | {v['memory_mib']:.0f} | {v['memory_ratio']:.2f}x |"
            )
    write_report(args.out, "cost", lines, rows)
    chart(rows, os.path.join(args.out, "cost.png"))


def measured(args, sizes, variants):
    """(arch, size, seconds, memory) of `variants` for every backbone and size (one backbone with --quick)."""
    set_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for arch in args.archs[:1] if args.quick else args.archs:
        for size in sizes:
            yield (
                arch,
                size,
                *measure_variants(arch, size, args.batch_size, 3 if args.quick else args.rounds, variants),
            )


def by_randomness(args):
    """R-Drop / one pass for each place of the randomness; writes cost_randomness.{md,json}."""
    sizes = [64] if args.quick else [size for size in args.sizes if size >= 128] or [128]
    rows = []
    for arch, size, seconds, memory in measured(args, sizes, place_variants()):
        for place in PLACES:
            one, rdrop = f"{place}: one pass", f"{place}: R-Drop"
            rows.append(
                {
                    "arch": arch,
                    "image_size": size,
                    "place": place,
                    "one_pass_s": seconds[one],
                    "rdrop_s": seconds[rdrop],
                    "time_ratio": seconds[rdrop] / seconds[one],
                    "memory_ratio": memory[rdrop] / memory[one],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    lines = header(
        args,
        "head dropout 0.1, drop path 0.1 (linear rule), R-Drop `auto` (the deterministic prefix once), alpha 0.6",
        [
            "backbone",
            "px",
            "stochastic layers",
            "one pass (s)",
            "R-Drop (s)",
            "time / one pass",
            "step memory / one pass",
        ],
    )
    for r in rows:
        lines.append(
            f"| {r['arch']} | {r['image_size']} | head dropout"
            f"{'' if r['place'] == 'head' else ' + drop path in ' + r['place']} | "
            f"{r['one_pass_s']:.3f} | {r['rdrop_s']:.3f} | {r['time_ratio']:.2f}x | {r['memory_ratio']:.2f}x |"
        )
    write_report(args.out, "cost_randomness", lines, rows)


def per_pass_views(args):
    """Each variant of `view_variants` / one pass with the same layers; writes cost_views.{md,json}."""
    rows = []
    for arch, size, seconds, memory in measured(args, [64] if args.quick else args.sizes, view_variants()):
        for variant in seconds:
            rows.append(
                {
                    "arch": arch,
                    "image_size": size,
                    "variant": variant,
                    "seconds": seconds[variant],
                    "time_ratio": seconds[variant] / seconds["one pass"],
                    "memory_ratio": memory[variant] / memory["one pass"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    lines = header(
        args,
        "head dropout 0.1, drop path 0.1 in the last stage, alpha 0.6; the two views are an image and its mirror",
        ["backbone", "px", "variant", "step (s)", "time / one pass", "step memory / one pass"],
    )
    for r in rows:
        lines.append(
            f"| {r['arch']} | {r['image_size']} | {r['variant']} | {r['seconds']:.3f} | "
            f"{r['time_ratio']:.2f}x | {r['memory_ratio']:.2f}x |"
        )
    write_report(args.out, "cost_views", lines, rows)


def header(args, settings, columns):
    """The first lines of a report: machine, settings, command, and the table's head."""
    return [
        f"Machine: {machine()}. Batch {args.batch_size}, {settings}; median of {args.rounds} interleaved rounds.",
        f"Command: python benchmarks/cost.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]


def write_report(out, name, lines, rows):
    """`out/<name>.md` (the table) and `out/<name>.json` (the rows), and the table on stdout."""
    with open(os.path.join(out, f"{name}.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out, f"{name}.json"), "w") as handle:
        json.dump(rows, handle, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
