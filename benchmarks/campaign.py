"""The long campaign of tests/tools/test_campaign.py: hundreds of generated bad configs and list files through the
tools on both engines, counted.

    python benchmarks/campaign.py --examples 21        # 21 x 12 cases per engine; appends to the log
    python benchmarks/campaign.py --report             # the counts from the log
    python benchmarks/campaign.py --inputs --target 500  # tests/tools/test_campaign_inputs.py's kinds (config
                                                         # text, path forms, val sizes on 1-3 processes)
    python benchmarks/campaign.py --inputs --report      # their counts (results/campaign_inputs.jsonl)

`--inputs` runs rounds of `--examples` batches per engine (each 12 text, 8 path and 2 val cases), one Hypothesis
seed a round, until the log holds `--target` cases of those kinds: stopped and started again, it goes on with the
next seed. Each case ends in a finished run, one `error:` line, another exception (a traceback), or no answer in
300 s (a hang); after each batch of 12 the files written before it are compared with their hashes."""

import argparse
import collections
import json
import os
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG = os.path.join(PROJECT, "benchmarks", "results", "campaign.jsonl")
INPUTS_LOG = os.path.join(PROJECT, "benchmarks", "results", "campaign_inputs.jsonl")  # the --inputs campaign's
FIRST_SEED = 1000  # the long campaign's first Hypothesis seed (CI's is 8)


INPUT_KINDS = ("config_text", "path", "val_size")


def read_rows(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def report(path):
    """The counts of the log at `path`: the first campaign's kinds, then test_campaign_inputs.py's."""
    rows = read_rows(path)
    lines = []
    for title, inputs in (("values, typos, list files", False), ("config text, paths, val sizes", True)):
        cases = [row for row in rows if "outcome" in row and (row["case"]["kind"] in INPUT_KINDS) == inputs]
        changed = sum(len(row["changed"]) for row in rows if "changed" in row and bool(row.get("inputs")) == inputs)
        lines += counts(title, cases, changed)
    print("\n".join(lines))
    return lines


def counts(title, cases, changed):
    kinds = collections.Counter(row["outcome"].split(":")[0] for row in cases)
    by_engine = collections.Counter(row["engine"] for row in cases)
    by_kind = collections.Counter(row["case"]["kind"] for row in cases)
    lines = [
        f"{title}: {len(cases)} cases ({', '.join(f'{e} {n}' for e, n in sorted(by_engine.items()))}; "
        f"{', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})",
        f"  finished runs: {kinds['ran']}; one-line errors: {kinds['error']}; tracebacks: {kinds['traceback']}; "
        f"hangs: {kinds['hang']}; files changed: {changed}; wrong (metric, folder or line): {kinds['wrong']}",
    ]
    for row in cases:
        if row["outcome"].startswith(("traceback", "hang", "wrong")):
            lines.append(f"  {row['engine']}: {json.dumps(row['case'], ensure_ascii=False)} -> {row['outcome'][:300]}")
    return lines


def run_inputs(args, env):
    """Rounds of test_campaign_inputs.py, a new seed each, until the log holds `args.target` of its cases."""
    test = os.path.join(PROJECT, "tests", "tools", "test_campaign_inputs.py")
    while True:
        rows = [row for row in read_rows(args.log) if "seed" in row]
        done = sum(1 for row in rows if "outcome" in row)
        if done >= args.target:
            return
        seed = max([row["seed"] for row in rows] + [FIRST_SEED - 1]) + 1
        print(f"campaign: {done} of {args.target} cases; round with seed {seed}", flush=True)
        round_env = {**env, "RDROP_CAMPAIGN_SEED": str(seed), "RDROP_CAMPAIGN_BATCH": "12,8,2"}
        subprocess.run([sys.executable, "-m", "pytest", "-q", test], env=round_env, cwd=PROJECT)
        if not any(row.get("seed") == seed for row in read_rows(args.log)):
            raise SystemExit(f"campaign: the round with seed {seed} logged nothing; see its output above")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=21, help="batches of 12 cases per engine")
    parser.add_argument(
        "--log", help="the results file (default: results/campaign.jsonl, with --inputs results/campaign_inputs.jsonl)"
    )
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--inputs", action="store_true", help="the kinds of test_campaign_inputs.py, in rounds")
    parser.add_argument("--target", type=int, default=500, help="with --inputs: cases to reach in the log")
    args = parser.parse_args()
    args.log = args.log or (INPUTS_LOG if args.inputs else LOG)
    env = {**os.environ, "RDROP_CAMPAIGN_EXAMPLES": str(args.examples), "RDROP_CAMPAIGN_LOG": os.path.abspath(args.log)}
    if args.inputs and not args.report:
        run_inputs(args, env)
    elif not args.report:
        test = os.path.join(PROJECT, "tests", "tools", "test_campaign.py")
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", test], env=env, cwd=PROJECT)
    report(args.log)


if __name__ == "__main__":
    main()
