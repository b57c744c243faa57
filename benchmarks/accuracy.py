"""What R-Drop buys on Fashion-MNIST: baseline vs head dropout alone vs R-Drop, several seeds.

    python benchmarks/accuracy.py            # 3 arms x 3 seeds, about an hour on 2 cores
    python benchmarks/accuracy.py --quick    # 1 seed, 2 epochs, 1000 images: a check that it runs

Data: Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist): a seeded subset of
the official training set (small enough to overfit) and the full official 10k test set. The arms
share every hyper-parameter and the number of epochs; each seed fixes the initial weights,
the dropout masks and the batch order. The loop is a plain Paddle loop on the plugin's public API
(`RDrop`, `RDropLoss`, `add_head_dropout`), the pieces the training engines run.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import build, machine, set_threads  # noqa: E402

ARMS = ("baseline", "dropout", "rdrop")
CURVE_IMAGES = 2000  # test images evaluated after every epoch, for the curves


def load(train_count, seed=0):
    import numpy as np

    from paddleclas_rdrop.demo_data import FASHION_MNIST_DIR, read_idx

    def path(name):
        return os.path.join(FASHION_MNIST_DIR, f"{name}-ubyte.gz")

    def prepare(images):
        x = (images.astype(np.float32) / 255.0 - 0.5) / 0.5
        return np.repeat(x[:, None], 3, axis=1)  # grayscale as 3 channels, NCHW

    train_images, train_labels = read_idx(path("train-images-idx3")), read_idx(path("train-labels-idx1"))
    keep = np.sort(np.random.default_rng(seed).permutation(len(train_labels))[:train_count])
    return (prepare(train_images[keep]), train_labels[keep].astype(np.int64),
            prepare(read_idx(path("t10k-images-idx3"))), read_idx(path("t10k-labels-idx1")).astype(np.int64))


def accuracy(model, images, labels, batch_size=250):
    import paddle

    model.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(paddle.to_tensor(images[start:start + batch_size]))
            correct += int((logits.argmax(axis=1).numpy() == labels[start:start + batch_size]).sum())
    model.train()
    return correct / len(images)


def run(arm, seed, args, data):
    """Train one arm with one seed; its curves, final test top-1 and wall time."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    from paddleclas_rdrop import RDrop, RDropLoss, add_head_dropout

    set_threads(args.threads)
    paddle.set_device("cpu")
    train_x, train_y, test_x, test_y = data
    model = build(args.arch, seed=seed)
    model.train()
    rdrop = kl_loss = None
    if arm == "dropout":
        add_head_dropout(model, args.head_dropout)
    elif arm == "rdrop":
        rdrop = RDrop(model, strategy="shared_trunk", head_dropout=args.head_dropout)
        kl_loss = RDropLoss(passes=rdrop.passes)
    steps_per_epoch = len(train_x) // args.batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=args.epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Momentum(schedule, momentum=0.9, parameters=model.parameters(),
                                          weight_decay=paddle.regularizer.L2Decay(args.l2))
    rng = np.random.default_rng(seed)
    curves = {"train_loss": [], "train_top1": [], "val_top1": []}
    start_time = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(train_x))
        losses, correct = [], 0
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            images = train_x[index]
            flip = rng.random(len(index)) < 0.5
            images[flip] = images[flip, :, :, ::-1]
            images, labels = paddle.to_tensor(images), paddle.to_tensor(train_y[index][:, None])
            if rdrop is None:
                out = model(images)
                loss = F.cross_entropy(out, labels)
                first_pass = out
            else:
                out = rdrop(images)
                loss = F.cross_entropy(out, rdrop.repeat_labels(labels)) \
                    + args.alpha * kl_loss(out, None)["RDropLoss"]
                first_pass = rdrop.split_passes(out)[0]
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            losses.append(float(loss))
            correct += int((first_pass.argmax(axis=1).numpy() == train_y[index]).sum())
        curves["train_loss"].append(statistics.mean(losses))
        curves["train_top1"].append(correct / (steps_per_epoch * args.batch_size))
        curves["val_top1"].append(accuracy(model, test_x[:CURVE_IMAGES], test_y[:CURVE_IMAGES]))
        print(f"{arm} seed {seed} epoch {epoch + 1}: loss {curves['train_loss'][-1]:.4f} "
              f"train {curves['train_top1'][-1]:.4f} val {curves['val_top1'][-1]:.4f}", flush=True)
    train_seconds = time.perf_counter() - start_time
    return {"arm": arm, "seed": seed, "curves": curves, "train_seconds": train_seconds,
            "test_top1": accuracy(model, test_x, test_y)}


def run_job(job):
    arm, seed, args = job
    return run(arm, seed, args, load(args.train_count))


def report(results, args, out):
    by_arm = {arm: [r for r in results if r["arm"] == arm] for arm in ARMS}
    summary = {}
    for arm, runs in by_arm.items():
        top1 = [r["test_top1"] for r in runs]
        summary[arm] = {"mean": statistics.mean(top1), "std": statistics.stdev(top1) if len(top1) > 1 else 0.0,
                        "runs": top1, "seconds": [r["train_seconds"] for r in runs],
                        "train_seconds": statistics.median(r["train_seconds"] for r in runs)}
    base = summary["baseline"]["train_seconds"]
    lines = [f"Machine: {machine()}; {args.jobs} runs at a time.",
             f"Command: {getattr(args, 'command', 'python benchmarks/accuracy.py')}",
             f"{args.arch}, {args.train_count} training images, full 10k test set, {args.epochs} epochs, "
             f"batch {args.batch_size}, Momentum 0.9, cosine lr {args.lr}, L2 {args.l2}, random flips, "
             f"head dropout {args.head_dropout}, alpha {args.alpha}, seeds {args.seeds}.", "",
             "| arm | test top-1 % (mean +- std) | top-1 % per seed | train s per seed | median train s / baseline's |",
             "|---|---|---|---|---|"]
    for arm in ARMS:
        s = summary[arm]
        lines.append(f"| {arm} | {s['mean'] * 100:.2f} +- {s['std'] * 100:.2f} | "
                     f"{', '.join(f'{v * 100:.2f}' for v in s['runs'])} | "
                     f"{', '.join(f'{v:.0f}' for v in s['seconds'])} | {s['train_seconds'] / base:.2f}x |")
    lines.append("")
    for other in ("baseline", "dropout"):
        gain = summary["rdrop"]["mean"] - summary[other]["mean"]
        spread = max(summary["rdrop"]["std"], summary[other]["std"])
        lines.append(f"R-Drop - {other}: {gain * 100:+.2f} points (largest seed std of the two: "
                     f"{spread * 100:.2f}); {'above' if gain > spread else 'NOT above'} the seed-to-seed spread.")
    with open(os.path.join(out, "accuracy.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "accuracy.json"), "w") as handle:
        json.dump({"args": vars(args), "summary": summary, "runs": results}, handle, indent=1)
    curves(by_arm, os.path.join(out, "accuracy.png"))
    print("\n".join(lines))


def curves(by_arm, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for key, axis in zip(("train_loss", "train_top1", "val_top1"), axes):
        for arm, runs in by_arm.items():
            values = [statistics.mean(epoch) for epoch in zip(*(r["curves"][key] for r in runs))]
            axis.plot(range(1, len(values) + 1), values, marker="o", label=arm)
        axis.set_title(key.replace("_", " ") + (f" (first {CURVE_IMAGES} test images)" if key == "val_top1" else ""))
        axis.set_xlabel("epoch")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="SE_ResNet18_vd")
    parser.add_argument("--train-count", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--head-dropout", type=float, default=0.2)
    parser.add_argument("--alpha", type=float, default=0.6)
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time (2 halves the wall time, but then the arms' times are not comparable)")
    parser.add_argument("--threads", type=int, default=2, help="2 was faster than 1 at batch 64")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, 1000 images")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--from-json", help="only redo the report and plot from a saved accuracy.json")
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as handle:
            saved = json.load(handle)
        set_threads(saved["args"]["threads"])
        report(saved["runs"], argparse.Namespace(**saved["args"]), args.out)
        return
    args.command = " ".join(["python benchmarks/accuracy.py", *sys.argv[1:]])
    if args.quick:
        args.seeds, args.epochs, args.train_count = [0], 2, 1000
    os.makedirs(args.out, exist_ok=True)
    set_threads(args.threads)
    jobs = [(arm, seed, args) for seed in args.seeds for arm in ARMS]
    if args.jobs > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(args.jobs)
        results = pool.map(run_job, jobs, chunksize=1)
        pool.close()
        pool.join()
    else:
        results = [run_job(job) for job in jobs]
    report(results, args, args.out)


if __name__ == "__main__":
    main()
