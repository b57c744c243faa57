"""Does R-Drop make a model hold up when its images get worse? The two whole-network regimes of the earlier
studies, each run also evaluated on ImageNet-C's corruptions of the Fashion-MNIST test split
(`tools/compare.py --corruptions`).

    export PYTHONPATH=$PWD PADDLECLAS_ROOT=/path/to/PaddleClas
    OMP_NUM_THREADS=1 nohup nice -n 15 python benchmarks/robustness_study.py > robustness_study.log 2>&1 &
    # or one process per regime, side by side: --regimes deit_tiny, --regimes se_resnet18; and once a regime is
    # done, two processes on the other, on seeds apart: --regimes se_resnet18 --seeds 3,4 (and --seeds 5)
    python benchmarks/robustness_study.py --report   # the reports from the results files (and docs/benchmarks.md)
    python benchmarks/robustness_study.py --smoke    # 1 seed, 2 arms, 1 epoch, a few images: a check that it runs

The setting, declared before any result was read (docs/benchmarks.md, "Under corruption"):
- Regime (a), SE_ResNet18_vd trained whole: the task, recipe and data of `benchmarks/equal_compute.py` (phase 2's
  run, `benchmarks/views_product.py`): phase 1's pretrained network (`accuracy.pretrain`, made anew on this
  machine, its SHA-256 kept in the results folder) with a new 5-class classifier per seed, 500 training images of
  Fashion-MNIST classes 5-9 at 28 px, 40 epochs. rdrop: alpha 3 with a 10-epoch warm-up, views_kl: alpha 1 with
  none (phase 1's choices on validation, `views_study.choose`). Seeds 0-5.
- Regime (b), DeiT-tiny: `benchmarks/vit_study.py`'s setup (`vit_study.finetune_config`): its kept pretrained
  weights (`benchmarks/results/vit_study/pretrained.pdparams`, their SHA-256 checked), 32 px, 15 epochs, alpha 1
  without warm-up for rdrop and views_kl (its `chosen.json`). Seeds 0-9.
- Arms: baseline (the recipe's twin: its stochastic layers, one pass, CE), rdrop, views_ce, views_kl, baseline_long
  (the twin for as many epochs as match each seed's rdrop training CPU time): `tools/compare.py`'s arms.
- Evaluation: the runs' final weights on the full test split of classes 5-9 (5000 images, clean), and, by
  `tools/compare.py --corruptions`, on a fixed class-stratified subset of it (200 images per class, seed 0: the
  same images in both regimes) clean and under ImageNet-C's corruptions at severities 1-5 (the copies made once,
  seeded, cached in the comparison's folder).
- Order: seed by seed, the DeiT regime's five arms then the SE-ResNet regime's, one run at a time; seeds 6-9 are
  the DeiT regime's alone. Every run is appended to its regime's results files as it ends; a restart resumes.
  Seed 0 ran so; from seed 1 the two regimes run side by side, one process each (`--regimes deit_tiny`,
  `--regimes se_resnet18`), each run one math thread on one of the machine's 2 cores; once one regime is done,
  the other's seeds left may run in two processes (`--seeds`), each seed's five arms still in one process.
Nothing is selected on the test split: the settings are those the two studies chose on validation.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import views_product  # noqa: E402
import views_study  # noqa: E402
import vit_study  # noqa: E402

import accuracy  # noqa: E402
from common import check_pretrained, machine, set_threads  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(PROJECT, "benchmarks", "results")
DOCS = os.path.join(PROJECT, "docs", "benchmarks.md")
REGIMES = ("deit_tiny", "se_resnet18")  # the order within a seed
TITLES = {
    "deit_tiny": "DeiT-tiny, dropout 0.1 in every block, alpha 1 (the regime of benchmarks/vit_study.py)",
    "se_resnet18": "SE_ResNet18_vd trained whole, head dropout and drop path, alpha 3 "
    "(the regime of benchmarks/equal_compute.py; views_kl: alpha 1, as phase 2)",
}
SEEDS = {"deit_tiny": 10, "se_resnet18": 6}
ARMS = ("baseline", "rdrop", "views_ce", "views_kl", "baseline_long")
PER_CLASS, SUBSET_SEED = 200, 0  # the corrupted subset: 200 test images per class, seeded
REFERENCES = {  # the study each regime repeats: its compare folder, and its work folder then
    "deit_tiny": ("vit_study/test", "~/.cache/paddleclas-rdrop/vit_study"),
    "se_resnet18": ("equal_compute", "~/.cache/paddleclas-rdrop/equal_compute"),
}
START, END = "<!-- robustness_study --report: start -->", "<!-- robustness_study --report: end -->"
CLEAN = "clean_test.jsonl"  # per regime: each run's values on the full test split, clean
OWN_FILES = (CLEAN, "pretrain.json", "pretrained.sha256")  # the study's files in a regime's compare --out


def write_subset(test_list, path, per_class, seed):
    """The seeded class-stratified subset of the list file `test_list` (`per_class` lines of each label, in
    list order; `accuracy.per_class`) written to `path`; its path."""
    import numpy as np

    with open(test_list, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    labels = np.array([int(line.split()[1]) for line in lines])
    (picked,) = accuracy.per_class(labels, sorted(set(labels.tolist())), [per_class], seed=seed)
    text = "".join(lines[i] for i in picked)
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return os.path.abspath(path)


def setup_deit(args, work, out):
    """vit_study's regime: its data, kept weights (SHA-256 checked), start checkpoints and chosen alpha; the
    recipes [(YAML, arms)], the test list."""
    study = types.SimpleNamespace(work=work, quick=args.smoke, threads=args.threads)
    os.makedirs(work, exist_ok=True)
    vit_study.write_images(os.path.join(work, "data"), study.quick)
    kept = os.path.join(RESULTS, "vit_study")
    weights = os.path.abspath(os.path.join(kept, "pretrained"))
    check_pretrained(weights + ".pdparams", kept)  # exits where the weights are not the study's
    start = vit_study.start_checkpoints(study, weights, range(SEEDS["deit_tiny"]))
    with open(os.path.join(kept, "chosen.json")) as handle:
        chosen = json.load(handle)
    config = vit_study.finetune_config(study, start, chosen["alpha"], chosen["alpha_warmup_epochs"])
    recipe = vit_study.write_yaml(config, os.path.join(work, "rdrop.yaml"))
    return [(recipe, args.arms)], os.path.join(work, "data", "test_list.txt"), start


def setup_se_resnet(args, work, out):
    """equal_compute's regime (phase 2's task): the data, the phase-1 pretraining (made once here, its SHA-256
    kept in `out`), start checkpoints, and the recipes of phase 1's choices: [(YAML, arms)], the test list."""
    study = types.SimpleNamespace(arch="SE_ResNet18_vd", epochs=40, lr=0.03, work=work, cache=work, quick=args.smoke)
    chosen = views_study.choose(accuracy.read_results(os.path.join(RESULTS, "views_study_runs.jsonl")))
    os.makedirs(work, exist_ok=True)
    views_product.write_images(os.path.join(work, "data"))
    record = accuracy.pretrain(study, accuracy.load_data(quick=study.quick))
    if record is not None:
        print(f"pretrained {accuracy.pretrain_path(study)}: {json.dumps(record)}", flush=True)
        with open(os.path.join(out, "pretrain.json"), "w") as handle:
            json.dump(record, handle, indent=1)
    check_pretrained(accuracy.pretrain_path(study), out)
    for seed in range(SEEDS["se_resnet18"]):
        views_product.start_checkpoint(study, seed)
    recipes = [(views_product.config_for(study, "rdrop", *chosen["rdrop"]), [a for a in args.arms if a != "views_kl"])]
    if "views_kl" in args.arms:  # phase 1 chose views_kl's alpha and warm-up apart from rdrop's
        recipes.append((views_product.config_for(study, "views_kl", *chosen["views_kl"]), ["views_kl"]))
    return recipes, os.path.join(work, "data", "test_list.txt"), os.path.join(work, "start_{seed}")


def prepare(args, name):
    """One regime made ready: its data and recipes, its comparison folder (`tools/compare.py`'s configs, checked
    against the folder's recorded setup, and the corrupted copies made or reused); a dict of what its runs need."""
    import yaml

    from paddleclas_rdrop.core.files import write_text
    from paddleclas_rdrop.tools.compare import command

    work, out = os.path.join(args.work, name), os.path.join(args.results, name)
    os.makedirs(out, exist_ok=True)
    setup = setup_deit if name == "deit_tiny" else setup_se_resnet
    spawn = multiprocessing.get_context("spawn")  # paddle's models and data stay out of this process: the peak
    with ProcessPoolExecutor(1, mp_context=spawn) as child:  # RSS of the runs it starts would count them
        recipes, test_list, start = child.submit(setup, args, work, out).result()
    subset = write_subset(
        test_list, os.path.join(work, "data", "corrupted_subset_list.txt"), args.per_class, SUBSET_SEED
    )
    clean = (
        test_list if not args.smoke else write_subset(test_list, os.path.join(work, "data", "smoke_clean.txt"), 4, 0)
    )
    paths, first = {}, None
    for recipe, arms in recipes:
        argv = ["-c", recipe, "-o", f"Global.pretrained_model={start}", *args.overrides, "--test-list", subset]
        argv += ["--arms", ",".join(arms), "--seeds", "2", "--out", out, "--corruptions"]
        argv += [arg for name in OWN_FILES for arg in ("--out-shared", name)]  # the study's records beside compare's
        compare_args = command.parse(argv)
        config = command.load(compare_args)
        paths.update(command.write_configs(compare_args, config))
        first = first or (compare_args, config)
    for arm, arm_paths in paths.items():  # its evaluation config on the full test split, clean
        with open(arm_paths["eval"], encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        config["DataLoader"]["Eval"]["dataset"]["cls_label_path"] = os.path.abspath(clean)
        arm_paths["clean"] = arm_paths["eval"].replace(".eval.yaml", ".clean.yaml")
        write_text(arm_paths["clean"], yaml.safe_dump(config, sort_keys=False))
    return {"name": name, "out": out, "paths": paths, "epochs": int(first[1]["Global"]["epochs"])}


def clean_eval(regime, arm, seed):
    """`tools/eval.py` on the run's final weights and the full test split; its row in the regime's CLEAN file."""
    from paddleclas_rdrop.core.calibration import read_counts
    from paddleclas_rdrop.tools.compare import runs

    run = os.path.join(regime["out"], "runs", f"{arm}_seed{seed}")  # this folder's run, wherever the row was made
    folder = os.path.join(run, "clean_test")
    os.makedirs(folder, exist_ok=True)
    written = os.path.join(folder, "calibration.json")
    command = [
        sys.executable, os.path.join(PROJECT, "tools", "eval.py"), "-c", regime["paths"][arm]["clean"],
        "-o", f"Global.output_dir={folder}", "-o", f"Global.seed={seed}",
        "-o", f"Global.pretrained_model={os.path.join(run, 'latest')}",
        "-o", f"Metric.Eval.1.Calibration.counts_file={written}",
    ]  # fmt: skip
    code, seconds, _, _ = runs.run_tool(command, os.path.join(folder, "eval.out"))
    if code != 0 or not os.path.exists(written):
        raise runs.failure(
            f"{regime['name']} {arm} seed {seed}", "tools/eval.py", code, os.path.join(folder, "eval.out")
        )
    counts, nll_sum = read_counts(written)
    total = counts[0].sum()
    clean = {
        "arm": arm, "seed": seed, "images": int(total), "top1": float(counts[2].sum() / total),
        "nll": nll_sum / total, "counts": counts.tolist(), "eval_seconds": seconds,
    }  # fmt: skip
    runs.append_row(os.path.join(regime["out"], CLEAN), clean)
    return clean


def plan(args):
    """(regime, arm, seed) of `args.regimes` in the declared order: seed by seed, the DeiT regime's arms, then the
    SE-ResNet's."""
    return [
        (name, arm, seed)
        for seed in range(max(args.seeds.values()))
        for name in REGIMES
        if name in args.regimes and seed < args.seeds[name] and (args.only_seeds is None or seed in args.only_seeds)
        for arm in args.arms
    ]


def seconds_left(todo, done):
    """Wall seconds the runs `todo` should take, from `done` ({(regime, arm, seed): seconds}): each regime's arm at
    its mean (baseline_long at rdrop's), an arm not run yet at its regime's mean, or the mean of all runs."""
    if not done:
        return None
    mean = lambda found: statistics.mean(found) if found else None  # noqa: E731
    overall = mean(list(done.values()))
    total = 0.0
    for name, arm, _ in todo:
        same = lambda a: [s for (n, b, _), s in done.items() if n == name and b == a]  # noqa: E731
        regime = mean([s for (n, _, _), s in done.items() if n == name])
        total += mean(same(arm)) or (arm == "baseline_long" and mean(same("rdrop"))) or regime or overall
    return total


def claim(out, seed):
    """An exclusive lock on seed `seed` of the regime in `out` (`out/runs/seed<seed>.lock`), held while this
    process lives, or None where another process holds it: two processes never run one seed."""
    import fcntl

    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    handle = open(os.path.join(out, "runs", f"seed{seed}.lock"), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def run_study(args):
    from paddleclas_rdrop.tools.compare import runs

    regimes, order, took, claimed = {}, plan(args), {}, {}
    for name, arm, seed in order:
        out = os.path.join(args.results, name)
        rows = {(r["arm"], r["seed"]): r for r in runs.read_results(out)}
        cleans = {(r["arm"], r["seed"]): r for r in runs.read_rows(os.path.join(out, CLEAN))}
        if (arm, seed) in rows and (arm, seed) in cleans:
            row, clean = rows[(arm, seed)], cleans[(arm, seed)]
            took[(name, arm, seed)] = row["train_seconds"] + row["eval_seconds"] + clean["eval_seconds"]
            runs.remove_weights(os.path.join(out, "runs", f"{arm}_seed{seed}"))  # a stop came before it, maybe
            continue
        if (name, seed) not in claimed:
            claimed[(name, seed)] = claim(out, seed)
            if claimed[(name, seed)] is None:
                print(
                    f"[robustness] {name} seed {seed}: another process runs this seed; this one leaves it", flush=True
                )
        if claimed[(name, seed)] is None:
            continue
        if name not in regimes:  # made ready when its first run is due: the first results come sooner
            regimes[name] = prepare(args, name)
        regime = regimes[name]
        print(f"[robustness] {name} {arm} seed {seed}", flush=True)
        if (arm, seed) not in rows:
            say = lambda line: print(f"  {line}", flush=True)  # noqa: E731
            tools = os.path.join(PROJECT, "tools")  # the weights stay for the clean evaluation below
            runs.run_all([arm], [seed], regime["out"], regime["paths"], tools, regime["epochs"], say, keep="all")
            rows = {(r["arm"], r["seed"]): r for r in runs.read_results(regime["out"])}
        row = rows[(arm, seed)]
        clean = clean_eval(regime, arm, seed)
        runs.remove_weights(os.path.join(regime["out"], "runs", f"{arm}_seed{seed}"))
        took[(name, arm, seed)] = row["train_seconds"] + row["eval_seconds"] + clean["eval_seconds"]
        todo = order[order.index((name, arm, seed)) + 1 :]
        left = seconds_left(todo, took)
        print(
            f"[robustness] {name} {arm} seed {seed}: top-1 {100 * clean['top1']:.2f} % on the full test split, "
            f"{100 * corrupted_top1(row):.2f} % under corruption; {row['train_seconds']:.0f} s training, "
            f"{row['eval_seconds']:.0f} + {clean['eval_seconds']:.0f} s evaluation; "
            f"{len(todo)} runs left" + (f", about {left / 3600:.1f} h" if left else ""),
            flush=True,
        )


def corrupted_top1(row):
    import numpy as np

    return float(np.mean([v["top1"] for v in row["corruptions"].values()]))


def complete(rows, arms):
    """The rows of the seeds that have every arm of `arms`."""
    seeds = {}
    for row in rows:
        seeds.setdefault(row["seed"], set()).add(row["arm"])
    whole = {seed for seed, found in seeds.items() if set(arms) <= found}
    return [row for row in rows if row["seed"] in whole]


def reference_lines(name, clean_rows):
    """How the clean runs compare with the same arm and seed of the study the regime repeats (baseline_long's
    epochs follow each run's measured time, so they may differ)."""
    folder, _ = REFERENCES[name]
    old = {(r["arm"], r["seed"]): r for r in accuracy.read_results(os.path.join(RESULTS, folder, "results.jsonl"))}
    found = [(r, old[(r["arm"], r["seed"])]) for r in clean_rows if (r["arm"], r["seed"]) in old]
    if not found:
        return []
    differ = [(new, then) for new, then in found if new["top1"] != then["top1"]]
    said = [
        f"{new['arm']} seed {new['seed']} {100 * (new['top1'] - then['top1']):+.2f} points"
        + (f" ({new['epochs']} epochs here, {then['epochs']} there)" if new["epochs"] != then["epochs"] else "")
        for new, then in differ
    ]
    return [
        f"- Against `benchmarks/results/{folder}/results.jsonl` (the same arm and seed, the same 5000 test images): "
        f"{len(found) - len(differ)} of {len(found)} runs gave the same clean top-1"
        + (f"; the others: {', '.join(said)}." if said else ".")
    ]


def config_lines(args, name):
    """Whether the regime's training configs are those its study ran (its recorded setup.json), the work folder
    aside: one line."""
    folder, then = REFERENCES[name]
    setups = [os.path.join(RESULTS, folder, "setup.json"), os.path.join(args.results, name, "setup.json")]
    if not all(os.path.exists(path) for path in setups):
        return []
    (old, new) = (json.load(open(path, encoding="utf-8"))["configs"] for path in setups)
    here = os.path.abspath(os.path.join(args.work, name))
    arms = [arm for arm in new if arm in old]
    same = [arm for arm in arms if new[arm].replace(here, os.path.expanduser(then)) == old[arm]]
    differ = [arm for arm in arms if arm not in same]
    return [
        f"- The training configs against those `benchmarks/results/{folder}/setup.json` recorded (the work folder "
        f"aside): {', '.join(same) or 'none'} the same" + (f"; {', '.join(differ)} differ." if differ else ".")
    ]


def regime_lines(args, name, docs_prefix):
    """A regime's results: its compare report (report.md, report.png, robustness.png) made anew, and the lines for
    the study's report."""
    from paddleclas_rdrop.tools.compare import command, report, robustness, runs

    out = os.path.join(args.results, name)
    rows = runs.read_results(out)
    lines = [f"### {TITLES[name]}", ""]
    whole = complete(rows, args.arms)
    seeds = sorted({r["seed"] for r in whole})
    if not whole:
        return lines + [f"No seed has all {len(args.arms)} arms yet ({len(rows)} runs done)."]
    title = types.SimpleNamespace(config=f"{name} (benchmarks/robustness_study.py)", out=out, test_list="the subset")
    command.publish(whole, title)
    cleans = {(r["arm"], r["seed"]): r for r in runs.read_rows(os.path.join(out, CLEAN))}
    clean_rows = [
        {**row, **{k: cleans[(row["arm"], row["seed"])][k] for k in ("images", "top1", "nll", "counts")}}
        for row in whole
        if (row["arm"], row["seed"]) in cleans
    ]
    for row in clean_rows:
        row.pop("corruptions", None)
    left_out = {n: why for r in whole for n, why in r.get("corruptions_left_out", {}).items()}
    used = robustness.corruptions_of(whole)
    dropped = f" ({', '.join(f'{n} left out: {w}' for n, w in sorted(left_out.items()))})" if left_out else ""
    sha = os.path.join(out if name == "se_resnet18" else os.path.join(RESULTS, "vit_study"), "pretrained.sha256")
    lines += [
        f"Seeds {', '.join(map(str, seeds))} ({len(seeds)} of {args.seeds[name]}, all {len(args.arms)} arms each; "
        f"{len(rows) - len(whole)} run{'' if len(rows) - len(whole) == 1 else 's'} of unfinished seeds left out). "
        "Pretrained weights: SHA-256 "
        f"`{open(sha).read().strip()[:16]}...` (`{os.path.relpath(sha, PROJECT)}`).",
        "",
        f"Clean, the full test split ({clean_rows[0]['images'] if clean_rows else '-'} images), per arm, mean over "
        "seeds (train CPU s: user + system seconds of tools/train.py, one math thread, the machine shared):",
        "",
        *report.arm_lines(clean_rows),
        "",
        "Paired differences a - b, mean [95 % t interval] over the seeds; " + report.units_sentence(clean_rows),
        "",
        *report.pair_lines(clean_rows),
        "",
        *([] if args.smoke else reference_lines(name, clean_rows) + config_lines(args, name)),
        "",
        f"Under corruption: the {whole[0]['images']}-image subset, {len(used)} ImageNet-C corruptions x 5 "
        f"severities{dropped}. Per arm, mean over seeds: top-1 and ECE in %, on the subset clean and averaged over "
        "every corrupted copy; mCE (Hendrycks & Dietterich): per corruption the arm's top-1 error summed over the "
        "severities / the baseline's, averaged over the corruptions, in % (the baseline's is 100):",
        "",
        *robustness.arm_lines(whole),
        "",
        "Paired differences a - b of the top-1 under corruption (points; over all copies, then each family's) and "
        "of the ECE over all copies, mean [95 % t interval] over the seeds:",
        "",
        *robustness.pair_lines(whole),
        "",
        f"![{name}: top-1 against severity]({docs_prefix}/{name}/robustness.png)",
        "",
        f"Every table of the comparison, the reliability diagrams and the per-seed plot: `{docs_prefix}/{name}/"
        "report.md` and `report.png` (compare's own report, on the subset's clean list).",
    ]
    return lines


def report_all(args):
    """The study's report from its results files: each regime's compare report, `report.md` in the results
    folder, and (the real study) the results block of docs/benchmarks.md."""
    results_md = os.path.join(args.results, "report.md")
    from_docs = os.path.relpath(args.results, os.path.dirname(DOCS))
    lines = [f"Machine: {machine()}.", ""]
    for name in REGIMES:
        lines += regime_lines(args, name, from_docs) + [""]
    text = "\n".join(lines).rstrip() + "\n"
    with open(results_md, "w", encoding="utf-8") as handle:
        handle.write(text.replace(from_docs + "/", ""))
    print(text)
    if not args.smoke:
        with open(DOCS, encoding="utf-8") as handle:
            docs = handle.read()
        head, rest = docs.split(START, 1)
        _, tail = rest.split(END, 1)
        with open(DOCS, "w", encoding="utf-8") as handle:
            handle.write(f"{head}{START}\n{text}{END}{tail}")
        print(f"[robustness] wrote {results_md} and the results block of {DOCS}")


def seed_list(parser, given, regimes):
    """`--seeds` as a set of ints, each a declared seed of at least one of `regimes`; otherwise `parser.error`
    names it."""
    items = [item.strip() for item in given.split(",")]
    if not all(item.isascii() and item.isdigit() for item in items):
        parser.error(f"--seeds {given}: give seeds as numbers separated by commas, e.g. 3,4")
    declared = ", ".join(f"{name} 0-{SEEDS[name] - 1}" for name in regimes)
    for seed in map(int, items):
        if seed >= max(SEEDS[name] for name in regimes):
            parser.error(f"--seeds {given}: {seed} is not a declared seed (declared: {declared})")
    return set(map(int, items))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="math threads per tool process")
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/paddleclas-rdrop/robustness_study"))
    parser.add_argument("--results", default=os.path.join(RESULTS, "robustness_study"))
    parser.add_argument(
        "--regimes", default=",".join(REGIMES), help=f"the regimes this process runs, of {','.join(REGIMES)}"
    )
    parser.add_argument(
        "--seeds",
        dest="only_seeds",
        help="the seeds this process runs (e.g. 3,4), of each regime's declared ones: a second process on other "
        "seeds of a regime keeps both cores busy once the other regime is done",
    )
    parser.add_argument("--report", action="store_true", help="only the reports, from the results files")
    parser.add_argument(
        "--smoke", action="store_true", help="seed 0, baseline and rdrop, 1 epoch, a few images, in --work/smoke"
    )
    args = parser.parse_args()
    args.regimes = args.regimes.split(",")
    if set(args.regimes) - set(REGIMES):
        parser.error(f"--regimes {','.join(args.regimes)}: the regimes are {','.join(REGIMES)}")
    args.seeds, args.arms, args.per_class, args.overrides = dict(SEEDS), list(ARMS), PER_CLASS, []
    if args.only_seeds is not None:
        args.only_seeds = seed_list(parser, args.only_seeds, args.regimes)
    if args.smoke:
        args.work = os.path.join(args.work, "smoke")
        args.results = os.path.join(args.work, "results")
        args.seeds, args.arms, args.per_class = {name: 1 for name in REGIMES}, ["baseline", "rdrop"], 2
        args.overrides = ["-o", "Global.epochs=1"]
    if args.only_seeds is not None and (args.report or not plan(args)):
        why = "--report runs nothing" if args.report else "no run of these regimes has them (--smoke runs seed 0)"
        parser.error(f"--seeds {','.join(map(str, sorted(args.only_seeds)))}: {why}")
    set_threads(args.threads)
    os.makedirs(args.results, exist_ok=True)
    started = time.time()
    if not args.report:
        run_study(args)
        print(f"[robustness] the runs took {(time.time() - started) / 3600:.2f} h", flush=True)
    report_all(args)


if __name__ == "__main__":
    main()
