"""The shipped CNN recipe's R-Drop against simply training longer: phase 2's task through `tools/compare.py`.

    nohup python benchmarks/equal_compute.py > equal_compute.log 2>&1 &   # resumes from its results file
    python benchmarks/equal_compute.py --seeds 0-2 & python benchmarks/equal_compute.py --seeds 3-5 &   # or two at once
    python benchmarks/equal_compute.py --report                          # the report from the results file

The setting, declared before any of its results was read (docs/benchmarks.md, "Against training longer"):
- Phase 2's task and run (`benchmarks/views_product.py`): the pretrained SE_ResNet18_vd of phase 1 with a
  new 5-class classifier per seed, fine-tuned whole on 500 Fashion-MNIST images of classes 5-9 (28 px
  PNGs), 40 epochs, batch 50, Momentum 0.9, cosine lr 0.03, L2 5e-4, random crop and flip; tested on the
  5000 official test images of those classes.
- The recipe is phase 2's `rdrop` arm: `configs/rdrop_se_resnet.yaml` with head dropout 0.1, drop path 0.1
  in the last stage, RDropLoss alpha 3 and a 10-epoch warm-up (phase 1's choice on validation).
- `tools/compare.py --arms baseline,rdrop,baseline_long`, seeds 0-5, paired: `baseline` is the recipe's
  twin (the same stochastic layers, one pass, CE only: phase 2's `stochastic` arm), `baseline_long` the
  twin for as many epochs as match each seed's rdrop training time (CPU seconds of the train process).
- The phase-1 pretraining is made anew here (a pretraining on another machine gives other floats); its
  SHA-256 is kept in the results folder and a resume on other weights is refused.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import views_product  # noqa: E402
import views_study  # noqa: E402

import accuracy  # noqa: E402
from common import check_pretrained, set_threads  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = views_product.SEEDS
ARMS = "baseline,rdrop,baseline_long"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="SE_ResNet18_vd")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=1, help="math threads per tool process")
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/paddleclas-rdrop/equal_compute"))
    parser.add_argument("--results", default=os.path.join(PROJECT, "benchmarks", "results", "equal_compute"))
    parser.add_argument("--phase1", default=os.path.join(PROJECT, "benchmarks", "results", "views_study_runs.jsonl"))
    parser.add_argument("--report", action="store_true", help="only the report, from the results file")
    parser.add_argument(
        "--seeds",
        help="first-last seeds to run (default 0-5); processes on disjoint seeds share one results file",
    )
    args = parser.parse_args()
    first, last = map(int, args.seeds.split("-")) if args.seeds and not args.report else (SEEDS[0], SEEDS[-1])
    args.cache, args.quick = args.work, False  # where accuracy.pretrain keeps phase 1's weights
    set_threads(args.threads)
    os.makedirs(args.results, exist_ok=True)
    command = [sys.executable, os.path.join(PROJECT, "tools", "compare.py")]
    if not args.report:
        alpha, warmup = views_study.choose(accuracy.read_results(args.phase1))["rdrop"]
        os.makedirs(args.work, exist_ok=True)
        views_product.write_images(os.path.join(args.work, "data"))
        if accuracy.pretrain(args, accuracy.load_data(quick=False)) is not None:
            print("pretrained", accuracy.pretrain_path(args), flush=True)
        check_pretrained(accuracy.pretrain_path(args), args.results)
        for seed in SEEDS:
            views_product.start_checkpoint(args, seed)
        recipe = views_product.config_for(args, "rdrop", alpha, warmup)
        command += ["-c", recipe, "-o", f"Global.pretrained_model={os.path.join(args.work, 'start_{seed}')}"]
        command += ["--test-list", os.path.join(args.work, "data", "test_list.txt")]
    else:
        command += ["-c", os.path.join(args.work, "rdrop.yaml"), "--report"]
    command += ["--arms", ARMS, "--first-seed", str(first), "--seeds", str(last - first + 1), "--out", args.results]
    command += ["--out-shared", "pretrained.sha256"]  # check_pretrained's record, beside compare's files
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    subprocess.run(command, check=True, env=env)


if __name__ == "__main__":
    main()
