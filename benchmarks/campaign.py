"""The long campaign of tests/tools/test_campaign.py: hundreds of generated bad configs and list files through the
tools on both engines, counted.

    python benchmarks/campaign.py --examples 21        # 21 x 12 cases per engine; appends to the log
    python benchmarks/campaign.py --report             # the counts from the log

Each case ends in a finished run, one `error:` line, another exception (a traceback), or no answer in
300 s (a hang); after each batch of 12 the files written before it are compared with their hashes."""

import argparse
import collections
import json
import os
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG = os.path.join(PROJECT, "benchmarks", "results", "campaign.jsonl")


def report(path):
    rows = [json.loads(line) for line in open(path)]
    cases = [row for row in rows if "outcome" in row]
    kinds = collections.Counter(row["outcome"].split(":")[0] for row in cases)
    by_engine = collections.Counter(row["engine"] for row in cases)
    changed = sum(len(row["changed"]) for row in rows if "changed" in row)
    lines = [
        f"cases: {len(cases)} ({', '.join(f'{e} {n}' for e, n in sorted(by_engine.items()))})",
        f"finished runs: {kinds['ran']}; one-line errors: {kinds['error']}; tracebacks: {kinds['traceback']}; "
        f"hangs: {kinds['hang']}; files changed: {changed}",
    ]
    for row in cases:
        if row["outcome"].startswith(("traceback", "hang")):
            lines.append(f"  {row['engine']}: {row['case']} -> {row['outcome'][:300]}")
    print("\n".join(lines))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=21, help="batches of 12 cases per engine")
    parser.add_argument("--log", default=LOG)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if not args.report:
        env = {
            **os.environ,
            "RDROP_CAMPAIGN_EXAMPLES": str(args.examples),
            "RDROP_CAMPAIGN_LOG": os.path.abspath(args.log),
        }
        test = os.path.join(PROJECT, "tests", "tools", "test_campaign.py")
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-x", test], env=env, cwd=PROJECT)
    report(args.log)


if __name__ == "__main__":
    main()
