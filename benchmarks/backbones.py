"""R-Drop on every backbone of the `paddleclas` wheel: one train step each with the plugin's defaults
(`backbone_step.check_backbone`), then the step's cost over a one-pass step.

    nohup python benchmarks/backbones.py --check > backbones.log 2>&1 &   # outcomes; resumes from its results
    python benchmarks/backbones.py --cost                                   # step-cost ratios, on a quiet machine
    python benchmarks/backbones.py --report                                 # docs/backbones.md from the results
    python benchmarks/backbones.py --check --only GoogLeNet,DeiT_tiny_distilled_patch16_224   # check again

Each family (the wheel's module) runs in a child process, one thread, so that a crash costs one row,
and every row is written as soon as it is known. A step that ends in anything but the plugin's own
`ConfigError` is recorded as `traceback`, with its type and first line: the table must have none.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, set_threads  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = os.path.join(PROJECT, "benchmarks", "results", "backbones.jsonl")
COSTS = os.path.join(PROJECT, "benchmarks", "results", "backbones_cost.jsonl")
REPORT = os.path.join(PROJECT, "docs", "backbones.md")
FAMILY_TIMEOUT = 3600  # s for one family's child process


def read(path):
    """`{name: record}` of a JSON-lines results file (the last record of a name wins)."""
    records = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    records[record["name"]] = record
    return records


def append(path, record):
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def check_names(names, family):
    """The child: `check_backbone` on each of `names`, a row each, as it goes."""
    from backbone_step import check_backbone

    from paddleclas_rdrop.core.errors import first_line

    for name in names:
        start = time.perf_counter()
        try:
            record = check_backbone(name)
        except Exception as error:  # what a user would see as a traceback: recorded, and the sweep goes on
            record = {"name": name, "outcome": "traceback", "error": f"{type(error).__name__}: {first_line(error)}"}
        record.update(family=family, seconds=round(time.perf_counter() - start, 2), run=RUN_ID)
        append(CHECKS, record)
        print(f"{name}: {record['outcome']} {record.get('error', '')[:150]}", flush=True)


def run_children(names_by_family, mode):
    """One child process per family; a child that dies records its current backbone and the rest go on."""
    for family, names in sorted(names_by_family.items()):
        while names:
            command = [sys.executable, __file__, f"--child-{mode}", ",".join(names), "--family", family]
            try:
                returncode = subprocess.run(command, timeout=FAMILY_TIMEOUT).returncode
            except subprocess.TimeoutExpired:
                returncode = "timeout"
            done = read(CHECKS if mode == "check" else COSTS)
            left = [name for name in names if name not in done or done[name].get("run") != RUN_ID]
            if returncode == 0 or not left:
                break
            record = {"name": left[0], "family": family, "run": RUN_ID}
            if mode == "check":
                record.update(outcome="traceback", error=f"the process ended ({returncode})")
            else:
                record.update(cost=None, error=f"the process ended ({returncode})")
            append(CHECKS if mode == "check" else COSTS, record)
            names = left[1:]


def cost_names(names):
    """The child of --cost: the step-cost ratio of each of `names`, with the setting its check trained with."""
    from backbone_step import step_cost

    checks = read(CHECKS)
    for name in names:
        check = checks[name]
        rdrop, arch = {}, {}
        if check["outcome"].startswith("trains with "):
            key, value = check["outcome"][len("trains with ") :].split("=")
            section, option = key.split(".", 1)
            (arch if section == "Arch" else rdrop)[option] = float(value)
        record = {"name": name, "run": RUN_ID}
        try:
            record["cost"] = round(step_cost(name, check["size"], rdrop=rdrop, arch=arch), 3)
        except Exception as error:
            record.update(cost=None, error=f"{type(error).__name__}: {error}"[:200])
        append(COSTS, record)
        print(f"{name}: {record.get('cost')}", flush=True)


def randomness_words(check):
    """A check's randomness column: "none" for a model that trains is its own, drawn in its forward."""
    words = check.get("randomness", "")
    if words == "none" and check["outcome"].startswith("trains"):
        return "own, drawn in its forward (no layer)"
    return words


def outcome_words(check):
    """A check's outcome as the table gives it."""
    outcome = check["outcome"]
    if outcome.startswith("trains with"):
        return f"error, then {outcome}"
    if outcome != "trains":
        tried = f" With {check['fix']}: {check['fix_error']}" if check.get("fix_error") else ""
        return f"{outcome}: {check['error']}{tried}"
    return outcome


def report():
    checks, costs = read(CHECKS), read(COSTS)
    from backbone_step import quickest_per_family, wheel_backbones

    families = defaultdict(list)
    for name, family in wheel_backbones().items():
        families[family].append(name)
    kinds = defaultdict(int)
    for record in checks.values():
        kinds[record["outcome"] if record["outcome"].startswith("trains") else record["outcome"]] += 1
    quickest = set(quickest_per_family(checks))
    family_rows, rows = [], []
    for family, names in sorted(families.items()):
        outcomes = defaultdict(int)
        for name in names:
            check = checks.get(name)
            outcomes[check["outcome"] if check else "not run"] += 1
            if check is None:
                rows.append(f"| {family} | {name} | | not run | | |")
                continue
            rows.append(
                f"| {family} | {name} | {check.get('size') or ''} | {outcome_words(check).replace('|', '/')} | "
                f"{check.get('strategy', '')} | {randomness_words(check)} |"
            )
        first = next((checks[n] for n in names if n in quickest), None)
        cost = costs.get(first["name"], {}).get("cost") if first else None
        family_rows.append(
            f"| {family} | {len(names)} | {'; '.join(f'{key} ({count})' for key, count in sorted(outcomes.items()))} | "
            f"{first['name'] if first else ''} | {first.get('strategy', '') if first else ''} | "
            f"{randomness_words(first) if first else ''} | {f'{cost:.2f}' if cost else ''} |"
        )
    traced = kinds.get("traceback", 0)
    lines = [
        "# R-Drop on every backbone of the paddleclas wheel",
        "",
        f"Every backbone constructor of `paddleclas` {wheel_version()} (`ppcls.arch.backbone`: "
        f"{sum(len(n) for n in families.values())} in {len(families)} families, a family being the module that "
        f"defines it), one R-Drop train step each as a user first sets it up: `RDrop` with 2 passes, strategy "
        "`auto` and no layer added; mean CE + 3 x `RDropLoss` (batchmean); SGD; 2 of scikit-learn's digits; "
        "10 classes; no pretrained weights. Size: the first of 32, 64, the size in the backbone's name, 224 "
        "and 299 px that an eval forward runs at. When the passes come out identical, the error names its fixes "
        "and the first one is applied and the step run again.",
        "",
        "    python benchmarks/backbones.py --check    # the outcomes, benchmarks/results/backbones.jsonl",
        "    python benchmarks/backbones.py --cost     # the cost of each family's quickest backbone",
        "    python benchmarks/backbones.py --report   # this page",
        "",
        f"{len(checks)} checked: "
        + ", ".join(f"{key} {count}" for key, count in sorted(kinds.items()))
        + f"; tracebacks: {traced}.",
        "",
        "- *trains*: the model's own stochastic layers are active as it is built (KL > 0).",
        "- *error, then trains with K=V*: the passes came out identical; the one-line error named K first, and "
        "with it the step trains (KL > 0). `Arch.` keys are the model's own rate arguments; `RDrop.drop_path` "
        "is the plugin's stochastic depth (ResNet family, PP-HGNet(V2), MobileNetV3); `RDrop.head_dropout` "
        "fits any model with a Linear classifier.",
        "- *error*: the plugin's one-line error, as the tools print it; for a model that builds but runs at none "
        "of the sizes tried, the model's reason at each size (through the tools, its first training step stops "
        "with one line naming the size keys, or, for a fault of PaddleClas's code, saying so).",
        "- Randomness: the stochastic layers active in the step, the model's own (type x count) or the plugin's.",
        "- Models with a layer scale (ConvNeXt, ...) start with branches scaled by about 1e-6, so their KL "
        "starts near 0 and grows as training scales the branches up.",
        f"- Cost: the R-Drop step's time over a one-pass step's (the same stochastic layers), on the family's "
        f"quickest backbone at its size, median of 3 alternated pairs after one warm-up step each, one thread, "
        f"a quiet machine ({machine_line()}). `concat` runs the k passes as one batch, so about 2x is expected; "
        "`shared_trunk` repeats only the part after the first stochastic layer.",
        "",
        "## Families",
        "",
        "| family | backbones | outcomes | quickest | strategy | randomness | cost |",
        "|---|---|---|---|---|---|---|",
        *family_rows,
        "",
        "## Backbones",
        "",
        "| family | backbone | px | outcome | strategy | randomness |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    with open(REPORT, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"{REPORT}: {len(rows)} backbones; {dict(kinds)}")


def wheel_version():
    from importlib.metadata import version

    return version("paddleclas")


def machine_line():
    costs = [record for record in read(COSTS).values() if record.get("machine")]
    return costs[-1]["machine"] if costs else machine()


RUN_ID = os.environ.get("BACKBONES_RUN", "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check every backbone not yet checked")
    parser.add_argument("--cost", action="store_true", help="the step-cost ratio of every backbone that trains")
    parser.add_argument("--report", action="store_true", help=f"write {os.path.relpath(REPORT, PROJECT)}")
    parser.add_argument("--only", help="comma-separated backbones to check again")
    parser.add_argument("--child-check", help=argparse.SUPPRESS)
    parser.add_argument("--child-cost", help=argparse.SUPPRESS)
    parser.add_argument("--family", help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_threads(1)
    if args.child_check:
        return check_names(args.child_check.split(","), args.family)
    if args.child_cost:
        return cost_names(args.child_cost.split(","))
    from backbone_step import wheel_backbones

    backbones = wheel_backbones()
    only = set(args.only.split(",")) if args.only else None
    os.environ["BACKBONES_RUN"] = globals()["RUN_ID"] = str(int(time.time()))
    if args.check:
        done = read(CHECKS)
        todo = defaultdict(list)
        for name, family in backbones.items():
            if (name in only) if only else name not in done:
                todo[family].append(name)
        run_children(todo, "check")
    if args.cost:
        from backbone_step import quickest_per_family

        checks, done = read(CHECKS), read(COSTS)
        todo = defaultdict(list)
        for name in quickest_per_family(checks):
            if checks[name]["outcome"].startswith("trains") and ((name in only) if only else name not in done):
                todo[checks[name]["family"]].append(name)
        append(COSTS, {"name": "", "machine": machine()})
        run_children(todo, "cost")
    if args.report:
        report()


if __name__ == "__main__":
    main()
