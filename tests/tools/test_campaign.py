"""A search for the cases nobody listed: Hypothesis generates bad configs (each key the tools read given a wrong
type or a boundary value, typos of real keys) and bad list files (encodings, line endings, blank lines,
missing or odd labels, odd paths, missing and undecodable images); each runs through the tools' own
`cli.run` on both engines. Every case must end in a finished run or in one `error:` line, never in another
exception or a hang, and no file written before it may change.

CI runs `RDROP_CAMPAIGN_EXAMPLES` (default 1) examples of 12 cases per engine; `python benchmarks/campaign.py`
runs hundreds and writes the counts to docs/reliability.md. With `RDROP_CAMPAIGN_LOG`, every outcome is
appended to that file as a JSON line."""

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_values import TABLE, bad_values, concrete

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, tool_environment

EXAMPLES = int(os.environ.get("RDROP_CAMPAIGN_EXAMPLES", "1"))
CASES_PER_EXAMPLE = 12
# what a batch process prints of each case: `outcome: "ran" | "error: <line>" | "hang" | "traceback: <line>"`
OUTCOME = r"""
import json, os, signal, sys, traceback
from paddleclas_rdrop.core.errors import RDropError
from paddleclas_rdrop.tools.cli import run

def hang(signum, frame):
    raise TimeoutError("no answer in 300 s")

signal.signal(signal.SIGALRM, hang)

def report(call):
    signal.alarm(300)
    try:
        call()
        outcome = "ran"
    except RDropError as error:
        outcome = f"error: {error}"
    except TimeoutError:
        outcome = "hang"
    except BaseException as error:
        outcome = "traceback: " + "".join(traceback.format_exception_only(type(error), error)).strip()
    signal.alarm(0)
    print("outcome:", json.dumps(outcome), flush=True)
"""
CAMPAIGN = (
    OUTCOME
    + r"""
config, cases = json.loads(sys.argv[1])
for overrides in cases:
    report(lambda: run("train", ["-c", config] + [arg for override in overrides for arg in ("-o", override)]))
"""
)
# PaddleClas keys of the recipe that a typo can hit, and the list-file defects
TYPO_KEYS = ["Global.epochs", "Global.eval_interval", "Global.save_interval", "Global.print_batch_step",
             "Arch.class_num", "DataLoader.Train.sampler.batch_size", "Optimizer.lr.learning_rate",
             "Optimizer.momentum", "RDrop.passes", "RDrop.head_dropout", "RDrop.drop_path"]  # fmt: skip
DEFECTS = ["none", "no_label", "extra_field", "word_label", "negative", "too_big", "missing_image", "space_in_path",
           "tab", "broken_image", "only_blank"]  # fmt: skip


def value_text(value):
    """A value as `-o` gives it (PaddleClas's parser evaluates it, and keeps the text where that fails)."""
    return value if isinstance(value, str) else repr(value)


@st.composite
def value_case(draw):
    pattern = draw(st.sampled_from(sorted(TABLE)))
    value = draw(bad_values(TABLE[pattern]))
    return {"kind": "value", "override": f"{'.'.join(concrete(pattern))}={value_text(value)}"}


@st.composite
def typo_case(draw):
    key = draw(st.sampled_from(TYPO_KEYS))
    *parents, leaf = key.split(".")
    index = draw(st.integers(0, len(leaf) - 1))
    edit = draw(st.sampled_from(["drop", "double", "swap_case"]))
    typo = {"drop": leaf[:index] + leaf[index + 1 :], "double": leaf[:index] + leaf[index] * 2 + leaf[index + 1 :],
            "swap_case": leaf[:index] + leaf[index].swapcase() + leaf[index + 1 :]}[edit]  # fmt: skip
    return {"kind": "typo", "override": ".".join(parents + [typo or "x"]) + "=1"}


@st.composite
def list_case(draw):
    return {
        "kind": "list",
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"])),
        "ending": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "blank_lines": draw(st.integers(0, 3)),
        "defect": draw(st.sampled_from(DEFECTS)),
        "line": draw(st.integers(0, 30)),
        "non_ascii": draw(st.booleans()),
    }


CASE = st.one_of(value_case(), typo_case(), list_case())


def write_list(workdir, case, index):
    """The list file of a `list` case, beside the digits (its images are the digits' own)."""
    root = workdir / "digits"
    lines = (root / "train_list.txt").read_text().splitlines()
    line = case["line"] % len(lines)
    path, label = lines[line].split()
    if case["non_ascii"]:  # a copy of the image under a name with a non-ASCII character
        name = f"images/数字_{uuid.uuid4().hex[:8]}.png"
        (root / name).write_bytes((root / path).read_bytes())
        path = name
    defect = case["defect"]
    replaced = {"none": f"{path} {label}", "no_label": path, "extra_field": f"{path} {label} 3",
                "word_label": f"{path} seven", "negative": f"{path} -1", "too_big": f"{path} 99",
                "missing_image": f"images/none_{index}.png {label}", "space_in_path": f"images/a b.png {label}",
                "tab": f"{path}\t{label}", "only_blank": ""}.get(defect)  # fmt: skip
    if defect == "broken_image":
        broken = f"images/broken_{uuid.uuid4().hex[:8]}.png"
        (root / broken).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
        replaced = f"{broken} {label}"
    lines[line] = replaced
    if defect == "only_blank":
        lines = [""] * len(lines)
    lines[1:1] = [""] * case["blank_lines"]
    text = case["ending"].join(lines) + case["ending"]
    target = root / f"campaign_{index}.txt"
    try:
        target.write_bytes(text.encode(case["encoding"]))
    except UnicodeEncodeError:  # latin-1 cannot hold the name: the same file in UTF-8
        target.write_bytes(text.encode("utf-8"))
    return target


def snapshot(folder):
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file() and "campaign_out" not in str(path)
    }


def run_cases(engine, workdir, cases):
    """The outcome of each case, all run by `CAMPAIGN` in one process of the tools."""
    batch = []
    for index, case in enumerate(cases):
        keys = overrides(workdir, f"campaign_out/{engine}_{index}") + TINY + ["Global.save_interval=1000"]
        if case["kind"] == "list":
            keys.append(f"DataLoader.Train.dataset.cls_label_path={write_list(workdir, case, index)}")
        else:
            keys.append(case["override"])
        batch.append(keys)
    config = os.path.join(PROJECT, "configs", "rdrop_res2net.yaml")
    result = subprocess.run(
        [sys.executable, "-c", CAMPAIGN, json.dumps([config, batch])],
        cwd=workdir,
        env=tool_environment(ENGINES[engine]),
        capture_output=True,
        text=True,
        timeout=300 * len(cases),
    )
    outcomes = [
        json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("outcome: ")
    ]
    assert len(outcomes) == len(cases), result.stdout[-2000:] + result.stderr[-3000:]
    return outcomes


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_generated_bad_configs_and_list_files_end_in_a_run_or_one_line(engine, workdir):
    import shutil

    from test_outputs import fake_run

    finished = workdir / "finished_run"
    fake_run(str(finished))
    log = os.environ.get("RDROP_CAMPAIGN_LOG")

    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
        phases=[Phase.generate],
    )  # fmt: skip
    @given(st.lists(CASE, min_size=CASES_PER_EXAMPLE, max_size=CASES_PER_EXAMPLE, unique_by=json.dumps))
    def campaign(cases):
        before = snapshot(workdir)
        outcomes = run_cases(engine, workdir, cases)
        changed = sorted(path for path, digest in before.items() if snapshot(workdir).get(path) != digest)
        if log:
            with open(log, "a") as handle:
                for case, outcome in zip(cases, outcomes):
                    handle.write(json.dumps({"engine": engine, "case": case, "outcome": outcome}) + "\n")
                handle.write(json.dumps({"engine": engine, "changed": changed}) + "\n")
        for case, outcome in zip(cases, outcomes):
            assert outcome == "ran" or (outcome.startswith("error: ") and "\n" not in outcome), (case, outcome)
        assert not changed
        shutil.rmtree(workdir / "campaign_out", ignore_errors=True)
        for stray in (workdir / "digits").glob("campaign_*.txt"):
            stray.unlink()

    campaign()
