"""What the tools' thread choice buys on CPU: a training step with one math thread (Paddle's default
when OMP_NUM_THREADS is unset) against the machine's cores (what the tools set).

    python benchmarks/threads.py            # writes benchmarks/results/threads.{md,json}

A step is forward + CE loss + backward + Momentum step of the stock network on random images, in
train mode. Each thread count runs in its own process (OpenMP reads the count once); per model and
count: 2 warm-up steps, then the median of 5 steps. Time it on a quiet machine.
"""

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import build, machine, set_threads  # noqa: E402

CASES = [("SE_ResNet50_vd", 16, 64), ("Res2Net50_vd_26w_4s", 8, 64), ("SE_ResNet18_vd", 64, 28)]
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def step_seconds(name, batch, size, steps=5):
    import numpy as np
    import paddle

    model = build(name)
    model.train()
    optimizer = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters())
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.standard_normal((batch, 3, size, size)).astype("float32"))
    labels = paddle.to_tensor(rng.integers(0, 10, batch).astype("int64"))
    times = []
    for step in range(2 + steps):
        start = time.perf_counter()
        loss = paddle.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        if step >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def child(threads):
    set_threads(threads)
    print(
        json.dumps(
            {"machine": machine(), "seconds": {name: step_seconds(name, batch, size) for name, batch, size in CASES}}
        )
    )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child(int(sys.argv[2]))
    counts = sorted({1, os.cpu_count()})
    runs = {}
    for threads in counts:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(threads)], capture_output=True, text=True, check=True
        ).stdout
        runs[threads] = json.loads(out.strip().splitlines()[-1])
    many = counts[-1]
    lines = [
        "# Training step time: one math thread vs the machine's cores",
        "",
        f"`python benchmarks/threads.py`; {runs[many]['machine']}. Forward, CE, backward and a",
        "Momentum step on random images in train mode; median of 5 steps after 2 warm-up steps, one",
        "process per thread count.",
        "",
        f"| model | batch | size | 1 thread | {many} threads | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, batch, size in CASES:
        one, all_ = runs[1]["seconds"][name], runs[many]["seconds"][name]
        lines.append(f"| {name} | {batch} | {size} px | {one:.2f} s | {all_:.2f} s | {one / all_:.2f}x |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "threads.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(RESULTS, "threads.json"), "w") as handle:
        json.dump({"cases": CASES, "runs": runs}, handle, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
