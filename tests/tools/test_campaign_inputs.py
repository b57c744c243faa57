"""The campaign of tests/tools/test_campaign.py extended to three more kinds of generated input (issue 39):

- `config_text`: faults in the config file's text (tabs, unclosed quotes, bad indentation, a key given twice
  at a random depth, Latin-1, UTF-16 with and without a byte-order mark, a UTF-8 byte-order mark, empty
  files, a top level that is not a mapping, `_BASE_`), read by `tools/data/config_file.py`;
- `path`: forms of the paths a config names (`~`, `$VAR`, `${VAR}` defined or not, folders with and
  without checkpoints, trailing slashes, URLs, relative paths from another working directory), resolved by
  `tools/data/paths.py`;
- `val_size`: N val images evaluated on P processes under `paddle.distributed.launch`, against one process.

Each case runs through the tools' own `cli.run` (a batch of cases in one process per engine) or `cli.main`
(`tools/eval.py`, launched), and must end in a finished run with the right output folder or top-1, or in
one `error:` line (naming the config file, and its line where there is one, for a text fault); never another
exception, a hang or a change to a file written before the batch. CI runs one batch per engine (3 text, 3
path and 1 val case; seed `RDROP_CAMPAIGN_SEED`, default 23: one training, 1 val image on 2 processes;
about 15 s each); `python benchmarks/campaign.py --inputs` runs many, logging each outcome to `RDROP_CAMPAIGN_LOG`."""

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from test_campaign import OUTCOME, snapshot

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, tool_command, tool_environment

EXAMPLES = int(os.environ.get("RDROP_CAMPAIGN_EXAMPLES", "1"))
SEED = int(os.environ.get("RDROP_CAMPAIGN_SEED", "23"))  # CI: 1 val image on 2 processes, 1 training
# cases of each kind per example and engine (`RDROP_CAMPAIGN_BATCH`: text,path,val)
BATCH = dict(
    zip(["config_text", "path", "val_size"], map(int, os.environ.get("RDROP_CAMPAIGN_BATCH", "3,3,1").split(",")))
)
BOTH = [engine_param("standalone"), engine_param("paddleclas")]
CONFIG = os.path.join(PROJECT, "configs", "rdrop_res2net.yaml")
SMALL = ["Global.save_interval=1000", "DataLoader.Eval.sampler.batch_size=4"]
RUNNER = (
    OUTCOME
    + r"""
base = dict(os.environ)
for case in json.loads(sys.argv[1]):
    os.chdir(case["cwd"])
    os.environ.clear()
    os.environ.update({**base, **case["env"]})
    report(lambda: run(case["mode"], case["argv"]))
"""
)


# -- config_text: the faults, each a function of the recipe's lines -------------------------------------------


def key_lines(lines):
    """Indices of the lines that hold a `key:` (not a comment, not a list item)."""
    return [i for i, line in enumerate(lines) if re.match(r"\s*[A-Za-z_][\w]*:", line)]


def indented_lines(lines):
    return [i for i in key_lines(lines) if lines[i].startswith(" ")]


def fault_text(case, lines):
    """(the file's bytes, the 1-based line an error must name or None, what is expected: `ran`, `error`
    (a line named, or the file alone) or `yaml` (whatever PyYAML says: refused, or either outcome))."""
    fault, pick, variant = case["fault"], case["line"], case["variant"]
    keys, indented = key_lines(lines), indented_lines(lines)
    text = "\n".join(lines) + "\n"
    if fault in ("tab", "unclosed_quote", "bad_indent"):
        index = indented[pick % len(indented)]
        lines = list(lines)
        lines[index] = syntax_fault(fault, lines[index], variant)
        return ("\n".join(lines) + "\n").encode(), None, "yaml"
    if fault == "duplicate":
        index = keys[pick % len(keys)]
        copy = lines[index] if variant % 2 else lines[index].split(":")[0] + ": 1"
        lines = lines[:index] + [copy] + lines[index:]
        return ("\n".join(lines) + "\n").encode(), index + 2, "error"
    if fault == "latin1":
        index = keys[pick % len(keys)]
        lines = lines[:index] + [" " * (len(lines[index]) - len(lines[index].lstrip())) + "# réglage"] + lines[index:]
        return ("\n".join(lines) + "\n").encode("latin-1"), index + 1, "error"
    if fault == "base":
        tops = [i for i in keys if not lines[i].startswith(" ")]
        index = tops[pick % len(tops)]
        base = ["_BASE_: ../base.yaml", "_BASE_: [a.yaml, b.yaml]", '_BASE_: "../../c.yml"'][variant % 3]
        return ("\n".join(lines[:index] + [base] + lines[index:]) + "\n").encode(), index + 1, "error"
    return whole_file_fault(fault, variant, text)


def syntax_fault(fault, line, variant):
    """`line` with a tab, an unclosed quote or a wrong indentation."""
    body = line.lstrip()
    indent = len(line) - len(body)
    if fault == "tab":
        return [("\t" + body), (" " * (indent - 1) + "\t" + body), line.replace(": ", ":\t", 1)][variant % 3]
    if fault == "unclosed_quote":
        key, _, value = line.partition(":")
        return key + ": " + "\"'"[variant % 2] + (value.strip() or "x")
    return " " * [indent + 1, indent + 3, max(indent - 1, 0), 0][variant % 4] + body


def whole_file_fault(fault, variant, text):
    """The faults of the whole file: its encoding, or a file with nothing or no mapping in it."""
    if fault == "utf16_bom":
        return text.encode("utf-16"), None, "error"
    if fault == "utf16_no_bom":
        return text.encode(["utf-16-le", "utf-16-be"][variant % 2]), None, "error"
    if fault == "utf8_bom":
        return b"\xef\xbb\xbf" + text.encode(), None, "ran"
    if fault == "empty":
        return ["", "\n\n", "# nothing here\n", "---\n"][variant % 4].encode(), None, "error"
    tops = ["- Global\n- Arch\n", "42\n", "null\n", "just words\n"]
    return tops[variant % 4].encode(), 1, "error"


TEXT_FAULTS = ["tab", "unclosed_quote", "bad_indent", "duplicate", "latin1", "utf16_bom", "utf16_no_bom",
               "utf8_bom", "empty", "non_mapping", "base"]  # fmt: skip


@st.composite
def text_case(draw):
    return {
        "kind": "config_text",
        "fault": draw(st.sampled_from(TEXT_FAULTS)),
        "line": draw(st.integers(0, 200)),
        "variant": draw(st.integers(0, 11)),
        "name": draw(st.sampled_from(["cfg_{}.yaml", "配置 {}.yaml", "my.cfg.{}.yml"])),
    }


def text_expectation(case, folder, index):
    """Write the case's config file into `folder`; (its path, the line, what is expected)."""
    path = os.path.join(folder, case["name"].format(index))
    lines = open(CONFIG, encoding="utf-8").read().split("\n")
    while lines and not lines[-1]:
        lines.pop()
    data, line, expected = fault_text(case, lines)
    with open(path, "wb") as handle:
        handle.write(data)
    if expected == "yaml":
        try:
            yaml.safe_load(data)
            expected = "either"
        except yaml.MarkedYAMLError:
            expected = "yaml_error"
    return path, line, expected


def judge_text(outcome, printed, path, line, expected):
    """The outcome of a `config_text` case as the campaign counts it: the tools' own, or `wrong: ...`. An
    error must name the file, with `line` where one is given, and with a line for a YAML syntax error."""
    if outcome.startswith(("traceback", "hang")) or expected == "either":
        return outcome
    if expected == "ran":
        return outcome if outcome == "ran" else f"wrong: expected a run, got {outcome}"
    named = re.escape(path) + (f":{line}\\b" if line else ":\\d+" if expected == "yaml_error" else "")
    if outcome.startswith("error: ") and re.search(named, outcome):
        return outcome
    return f"wrong: expected one error naming {named}, got {outcome}"


# -- path: the forms of a path, each a (value, working directory, environment) ---------------------------------

PATH_KEYS = {
    "Global.output_dir": "campaign_out/{engine}_{index}",
    "Global.pretrained_model": "weights/start",
    "Global.checkpoints": "trained_{engine}/epoch_1",
    "DataLoader.Train.dataset.cls_label_path": "digits/small_train.txt",
    "DataLoader.Train.dataset.image_root": "digits",
}
FORMS = ["absolute", "tilde", "var", "braced", "undefined", "bad_name", "trailing_slash", "folder", "empty_folder",
         "url", "other_cwd", "wrong_cwd"]  # fmt: skip
WEIGHTS = ("Global.pretrained_model", "Global.checkpoints")
RUNS = ("absolute", "tilde", "var", "braced", "other_cwd")  # the forms every key takes
FOLDERS = {"Global.output_dir": "finished_run", "Global.pretrained_model": "weights",
           "Global.checkpoints": "finished_run", "DataLoader.Train.dataset.cls_label_path": "digits",
           "DataLoader.Train.dataset.image_root": "digits"}  # fmt: skip


@st.composite
def path_case(draw):
    key = draw(st.sampled_from(sorted(PATH_KEYS)))
    forms = [form for form in FORMS if not (form == "url" and key == "Global.output_dir")]
    return {"kind": "path", "key": key, "form": draw(st.sampled_from(forms)), "braces": draw(st.booleans())}


def path_value(case, workdir, target, index):
    """(the value, the working directory, the environment) of a `path` case."""
    form, here, elsewhere = case["form"], str(workdir), str(workdir / "elsewhere")
    values = {
        "absolute": f"{here}/{target}",
        "tilde": f"~/{target}",
        "var": f"$RDROP_CAMPAIGN_DIR/{target}",
        "braced": f"${{RDROP_CAMPAIGN_DIR}}/{target}",
        "undefined": f"${{RDROP_CAMPAIGN_UNSET}}/{target}" if case["braces"] else f"$RDROP_CAMPAIGN_UNSET/{target}",
        "bad_name": f"${{1{target[:2]}}}/{target}",
        "trailing_slash": f"{here}/{target}/",
        "folder": f"{here}/{FOLDERS[case['key']]}" + ("/" if case["braces"] else ""),
        "empty_folder": f"{here}/campaign_out/empty_{index}",
        "url": f"http://127.0.0.1:{case.get('port', 9)}/{os.path.basename(target)}.pdparams",
        "other_cwd": f"../{target}",
        "wrong_cwd": target,
    }
    cwd = elsewhere if form in ("other_cwd", "wrong_cwd") else here
    return values[form], cwd, {"HOME": here, "RDROP_CAMPAIGN_DIR": here}


def path_expectation(case, workdir, engine, index):
    """(the -o overrides of a `path` case, its working directory and environment, the output folder a run
    must fill or None where one `error:` line is expected, the words that line must hold)."""
    key, form = case["key"], case["form"]
    target = PATH_KEYS[key].format(engine=engine, index=index)
    value, cwd, env = path_value(case, workdir, target, index)
    if form == "empty_folder":
        os.makedirs(workdir / "campaign_out" / f"empty_{index}", exist_ok=True)
    output = workdir / "campaign_out" / f"{engine}_{index}"
    runs = form in RUNS
    if key == "Global.output_dir":
        runs = runs or form in ("trailing_slash", "empty_folder", "wrong_cwd")
        output = {"empty_folder": workdir / "campaign_out" / f"empty_{index}",
                  "wrong_cwd": workdir / "elsewhere" / target}.get(form, workdir / target)  # fmt: skip
    elif key == "DataLoader.Train.dataset.image_root":
        runs = runs or form == "trailing_slash" or (form == "folder")
    words = [key] if form in ("undefined", "bad_name") or key in WEIGHTS else []
    keys = overrides(workdir, f"campaign_out/{engine}_{index}") + TINY + SMALL + train_list(workdir)
    keys += ["Global.epochs=2"] if key == "Global.checkpoints" else []
    return keys + [f"{key}={value}"], cwd, env, (output if runs else None), words


def train_list(workdir):
    return [f"DataLoader.Train.dataset.cls_label_path={workdir}/digits/small_train.txt"]


def judge_path(outcome, printed, output, words):
    if outcome.startswith(("traceback", "hang")):
        return outcome
    if output is not None:
        if outcome != "ran":
            return f"wrong: expected a run into {output}, got {outcome}"
        return outcome if (output / "latest.pdparams").is_file() else f"wrong: no latest.pdparams in {output}"
    if outcome.startswith("error: ") and all(word in outcome for word in words):
        return outcome
    return f"wrong: expected one error naming {words}, got {outcome}"


# -- running a batch ----------------------------------------------------------------------------------------


def run_batch(engine, workdir, runs):
    """(outcome, what it printed) of each run (a dict of mode, argv, cwd and env), all in one process of
    `RUNNER`."""
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(runs)],
        cwd=workdir,
        env=tool_environment(ENGINES[engine]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300 * len(runs) + 60,
    )
    found, printed = [], []
    for line in result.stdout.splitlines():
        if line.startswith("outcome: "):
            found.append((json.loads(line.split(" ", 1)[1]), "\n".join(printed)))
            printed = []
        else:
            printed.append(line)
    assert len(found) == len(runs), result.stdout[-5000:]
    return found


def argv(config, keys):
    return ["-c", config] + [arg for key in keys for arg in ("-o", key)]


def one_run(config, keys, cwd, env=None, mode="train"):
    return {"mode": mode, "argv": argv(config, keys), "cwd": str(cwd), "env": env or {}}


def text_runs(engine, workdir, cases):
    """(the run, its judge) of each `config_text` case, its config file written."""
    folder = workdir / "campaign_out" / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    planned = []
    for index, case in enumerate(cases):
        path, line, expected = text_expectation(case, str(folder), index)
        keys = overrides(workdir, f"campaign_out/text_{index}") + TINY + SMALL + train_list(workdir)
        judge = functools.partial(judge_text, path=path, line=line, expected=expected)
        planned.append((one_run(path, keys, workdir), judge))
    return planned


def path_runs(engine, workdir, cases):
    """(the run, its judge) of each `path` case."""
    port = closed_port()
    if any(case["key"] == "Global.checkpoints" and case["form"] in RUNS for case in cases):
        trained_run(engine, workdir)
    planned = []
    for index, case in enumerate(cases):
        case["port"] = port
        keys, cwd, env, output, words = path_expectation(case, workdir, engine, index)
        planned.append((one_run(CONFIG, keys, cwd, env), functools.partial(judge_path, output=output, words=words)))
    return planned


def trained_run(engine, workdir):
    """A 2-epoch run of the tools with its `epoch_1`, once per engine: what `Global.checkpoints` resumes."""
    if (workdir / f"trained_{engine}" / "epoch_1.pdparams").is_file():
        return
    keys = overrides(workdir, f"trained_{engine}", epochs=2, every_epoch=True) + TINY + train_list(workdir)
    run = one_run(CONFIG, keys + ["DataLoader.Eval.sampler.batch_size=4"], workdir)
    assert run_batch(engine, workdir, [run])[0][0] == "ran"


# -- val_size: N val images on P processes ----------------------------------------------------------------------


@st.composite
def val_case(draw):
    images = draw(st.one_of(st.integers(1, 3), st.integers(1, 7)))  # N < P as often as not
    return {"kind": "val_size", "images": images, "processes": draw(st.integers(1, 3))}


TOP = re.compile(r"\[Eval\](?:\[Epoch \d+\])?\[Avg\].*?top1: ([\d.]+)")
EVAL_CONFIG = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")


def val_keys(workdir, name, images):
    """The -o overrides of an evaluation of the start weights on the first `images` val images."""
    lines = (workdir / "digits" / "val_list.txt").read_text().splitlines()[:images]
    (workdir / "campaign_out").mkdir(exist_ok=True)
    (workdir / "campaign_out" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return overrides(workdir, f"campaign_out/{name}") + TINY + [
        f"Global.pretrained_model={workdir}/weights/start", "DataLoader.Eval.sampler.batch_size=2",
        f"DataLoader.Eval.dataset.cls_label_path={workdir}/campaign_out/{name}.txt"]  # fmt: skip


def reference_runs(workdir, cases, references):
    """(the run, its judge) of a one-process evaluation (`cli.run`) per image count not in `references`; the
    judge keeps its top-1 there (None for no run)."""
    planned = []
    for images in sorted({case["images"] for case in cases} - set(references)):
        run = one_run(EVAL_CONFIG, val_keys(workdir, f"ref_{images}", images), workdir, mode="eval")
        planned.append((run, functools.partial(keep_reference, references=references, images=images)))
    return planned


def keep_reference(outcome, printed, references, images):
    found = TOP.findall(printed)
    references[images] = (float(found[-1]) if outcome == "ran" and found else None, outcome)
    return outcome


def launched(engine, workdir, images, processes, name):
    """(outcome, top-1) of tools/eval.py (`cli.main`) under `paddle.distributed.launch` on `processes`."""
    command = tool_command("eval.py", "rdrop_se_resnet.yaml", val_keys(workdir, name, images), processes)
    command[command.index("launch_log")] = f"campaign_out/{name}_log"
    process = subprocess.Popen(
        command, cwd=workdir, env=tool_environment(ENGINES[engine]), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        printed = process.communicate(timeout=300)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "hang", None
    logs = [p.read_text() for p in sorted((workdir / "campaign_out").glob(f"{name}_log/workerlog.*"))]
    return eval_outcome(process.returncode, printed, logs)


def eval_outcome(returncode, printed, logs):
    """The outcome of an evaluation that printed `printed` and whose ranks wrote `logs` (rank 0 first)."""
    text = "\n".join([printed] + logs)
    if "Traceback (most recent call last)" in text:
        tail = [line for line in text.split("Traceback (most recent call last)")[1].splitlines() if line.strip()]
        return "traceback: " + next((line for line in tail if not line.startswith((" ", "\t"))), "?"), None
    found = TOP.findall(logs[0] if logs else printed)
    if returncode == 0 and found:
        return "ran", float(found[-1])
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    return (errors[0] if errors else f"traceback: exit {returncode} without an error: line"), None


def val_outcomes(engine, workdir, cases, references):
    """Each case's outcome: `ran` when its top-1 is the one-process value (`references`) and a whole count."""
    judged = []
    for index, case in enumerate(cases):
        images, processes = case["images"], case["processes"]
        outcome, top1 = launched(engine, workdir, images, processes, f"val_{index}")
        reference, how = references[images]
        if outcome == "ran" and (reference is None or abs(top1 - reference) > 1e-6):
            outcome = f"wrong: top1 {top1} on {processes} processes, {reference} on one ({how[:200]})"
        elif outcome == "ran" and abs(reference * images - round(reference * images)) > 1e-3:  # 5 decimals shown
            outcome = f"wrong: top1 {reference} of {images} images is not a whole count"
        judged.append(outcome)
    return judged


# -- the campaign ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inputs_workdir(workdir):
    """The workdir with what the cases name: start weights, a finished run, a 16-image train list, a folder
    to work from."""
    import paddle
    from test_outputs import fake_run

    from models import build

    fake_run(str(workdir / "finished_run"))
    (workdir / "weights").mkdir(exist_ok=True)
    paddle.save(build(TINY[0].split("=")[1], seed=3).state_dict(), str(workdir / "weights" / "start.pdparams"))
    lines = (workdir / "digits" / "train_list.txt").read_text().splitlines()[:16]
    (workdir / "digits" / "small_train.txt").write_text("\n".join(lines) + "\n")
    (workdir / "elsewhere").mkdir(exist_ok=True)
    return workdir


def closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def batch_of(size, strategy):
    return st.lists(strategy, min_size=size, max_size=size, unique_by=json.dumps)


BATCHES = st.fixed_dictionaries(
    {kind: batch_of(BATCH[kind], strategy) for kind, strategy in
     [("config_text", text_case()), ("path", path_case()), ("val_size", val_case())]}
)  # fmt: skip


def run_cases(engine, workdir, batch, references):
    """The judged outcome of every case of `batch`: the text and path cases and the one-process evaluations
    in one process of the tools (`cli.run`), then each launched evaluation (`cli.main`)."""
    planned = text_runs(engine, workdir, batch["config_text"]) + path_runs(engine, workdir, batch["path"])
    planned += reference_runs(workdir, batch["val_size"], references)
    found = run_batch(engine, workdir, [run for run, _ in planned])
    outcomes = [judge(outcome, printed) for (_, judge), (outcome, printed) in zip(planned, found)]
    cases = batch["config_text"] + batch["path"]
    return cases + batch["val_size"], outcomes[: len(cases)] + val_outcomes(
        engine, workdir, batch["val_size"], references
    )


def record(engine, cases, outcomes, changed):
    log = os.environ.get("RDROP_CAMPAIGN_LOG")
    if not log:
        return
    with open(log, "a") as handle:
        for case, outcome in zip(cases, outcomes):
            row = {"engine": engine, "seed": SEED, "case": case, "outcome": outcome}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.write(json.dumps({"engine": engine, "seed": SEED, "inputs": True, "changed": changed}) + "\n")


@pytest.mark.parametrize("engine", BOTH)
def test_generated_config_texts_paths_and_val_sizes_end_in_a_right_run_or_one_line(engine, inputs_workdir):
    workdir, references = inputs_workdir, {}

    @hypothesis_seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.generate])  # fmt: skip
    @given(BATCHES)
    def campaign(batch):
        before = snapshot(workdir)
        try:
            cases, outcomes = run_cases(engine, workdir, batch, references)
        finally:
            changed = sorted(path for path, digest in before.items() if snapshot(workdir).get(path) != digest)
            shutil.rmtree(workdir / "campaign_out", ignore_errors=True)
            shutil.rmtree(workdir / "elsewhere" / "campaign_out", ignore_errors=True)
        record(engine, cases, outcomes, changed)
        for case, outcome in zip(cases, outcomes):
            assert outcome == "ran" or (outcome.startswith("error: ") and "\n" not in outcome), (case, outcome)
        assert not changed

    campaign()
