"""The runs of a comparison: each arm and seed trained by `tools/train.py` into its own folder, then
evaluated by `tools/eval.py` (TopkAcc + Calibration and its per-class results, or multi-label LabelCalibration;
with `--corruptions`, on the corrupted copies too); one JSON line per finished run in the results file, which a
restart resumes from. Once a run's line is written, its weights are deleted (`keep_weights`: the best run's, or
every run's, may be kept)."""

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

from ...core.calibration import read_counts
from ...core.errors import ConfigError, RDropError, stop_signal
from ...core.files import write_text
from ...core.label_calibration import label_summary, read_scores
from ..evaluations import PER_CLASS_FILE
from ..per_class import read_per_class
from .report import best_run, cost_key

RESULTS, SETUP = "results.jsonl", "setup.json"
TRAINED = "trained.json"  # in a run's folder once its training ended: a stop or failure of its evaluation keeps it
TRAINED_KEYS = ("train_seconds", "train_cpu_seconds", "peak_rss_mb")  # numbers, beside "epochs"


class RunFailed(RDropError):
    """A tool of one run exited non-zero; the message names the run, the tool's error and its log. `stopped`: the
    tool was ended by a signal (SIGINT, SIGTERM, SIGKILL: a Ctrl-C, a shutdown, the OOM killer), not by a fault
    of its own."""

    stopped = False


def read_results(out):
    """The finished runs recorded in `out`'s results file ([] before the first): `read_rows`."""
    return read_rows(os.path.join(out, RESULTS))


def read_rows(path, wait=1.0):
    """The rows of the JSON-lines file `path` (`append_row`'s; [] before the first). A last line that is not whole
    and has no newline yet (another process appending it) is read again after `wait` seconds; a line that is
    still not JSON is a `ConfigError` naming the file, the line and the fix."""
    for attempt in range(2):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")  # the last is "" after a whole last line
        rows, broken = [], None
        for number, line in enumerate(lines, 1):
            try:
                rows.extend([json.loads(line)] if line.strip() else [])
            except ValueError:
                broken = number
                break
        if broken is None:
            return rows
        if attempt or broken < len(lines):
            break
        time.sleep(wait)
    raise ConfigError(
        f"{path} line {broken} is not a whole results line: remove that line, and the same command runs that run again"
    )


def read_setup(path):
    """The setup recorded in `path` (`check_setup`); `ConfigError` where it is not one (cut short, edited)."""
    try:
        with open(path, encoding="utf-8") as handle:
            recorded = json.load(handle)
    except ValueError:
        recorded = None
    if not (isinstance(recorded, dict) and isinstance(recorded.get("configs"), dict) and "eval_list" in recorded):
        raise ConfigError(
            f"{path} is not a setup compare.py recorded (cut short or edited): remove it, and the same command "
            "records this one (the runs already in results.jsonl are then not checked against it)"
        )
    return recorded


def check_setup(out, setup, record=True):
    """Record `setup` ({"configs": {arm: YAML text}, "eval_list": ...}) in `out` (with `record`), or check it
    against the one recorded: the arms run before keep their configs and the evaluation its list, so results
    of another setup are never mixed in. Seeds and arms may be added. Raises `ConfigError`."""
    path = os.path.join(out, SETUP)
    if os.path.exists(path):
        recorded = read_setup(path)
        configs = setup["configs"]
        changed = [arm for arm in configs if recorded["configs"].get(arm, configs[arm]) != configs[arm]]
        if recorded["eval_list"] != setup["eval_list"]:
            changed.insert(0, f"the evaluation list ({recorded['eval_list']} then)")
        if recorded.get("corruptions") != setup.get("corruptions"):
            changed.append("--corruptions (given or not, the list's images, how they decode, or how copies are made)")
        if changed:
            raise ConfigError(
                f"--out {out} holds a comparison of another setup ({', '.join(changed)} differ): give another "
                f"--out, or remove {out} to start this one anew"
            )
        setup = {**setup, "configs": {**recorded["configs"], **setup["configs"]}}
    if not record:
        return
    os.makedirs(out, exist_ok=True)
    write_text(path, json.dumps(setup, indent=1))


def plan(arms, seeds, done):
    """(arm, seed) still to run, seed by seed: baseline and rdrop before baseline_long, which needs their
    training times."""
    finished = {(row["arm"], row["seed"]) for row in done}
    return [(arm, seed) for seed in seeds for arm in arms if (arm, seed) not in finished]


def long_epochs(done, seed, epochs):
    """baseline_long's epochs for `seed`: `epochs` x the rdrop / baseline training-time ratio of that seed,
    in CPU seconds (`train_cpu_seconds`: a pause or another job on the machine lengthens the wall time of
    one run, not its CPU time) where both runs recorded them, else in wall seconds."""
    rows = {row["arm"]: row for row in done if row["seed"] == seed}
    key = cost_key([rows["rdrop"], rows["baseline"]])
    return max(epochs, round(epochs * rows["rdrop"][key] / rows["baseline"][key]))


def run_tool(command, log_path):
    """Run `command` with its output into `log_path`; (exit code, wall seconds, peak RSS in MB, CPU seconds:
    user + system of the process and the children it waited for)."""
    start = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=end_with_parent,
            start_new_session=True,
        )
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException as error:
            stop_tool(process, signal.Signals[stop_signal(error)])
            raise
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return process.returncode, time.time() - start, usage.ru_maxrss / 1024, cpu  # Linux: ru_maxrss in KiB


def stop_tool(process, number, then=120.0):
    """End the running tool as a stop of compare asks: `number` (SIGINT, SIGTERM) once, which stops training at its
    safe point (the tool runs in its own session, so a terminal's Ctrl-C reaches compare alone), and SIGKILL if it
    has not ended `then` seconds later."""
    process.send_signal(number)
    try:
        process.wait(then)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def end_with_parent():
    """In a tool's process before it starts: SIGTERM to it when compare ends, even by SIGKILL (Linux's
    `PR_SET_PDEATHSIG`), so that no training goes on writing into a run folder the next call makes anew."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def failure(name, tool, code, log_path):
    """The one line a failed tool gives: its own `error:` line, or its last line, and where its log is."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    said = next((line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else "no output")
    stopped = {-2: "SIGINT", 130: "SIGINT", -15: "SIGTERM", 143: "SIGTERM", -9: "SIGKILL", 137: "SIGKILL"}
    if code in stopped:  # its own line would advise a resume by hand, which compare does itself
        said = f"stopped by {stopped[code]}; the same command runs it again"
    failed = RunFailed(f"{name}: {tool} exited {code}: {said.removeprefix('error: ')} (its output: {log_path})")
    failed.stopped = code in stopped
    return failed


def run_one(arm, seed, paths, tools_dir, epochs=None, say=print):
    """Train and evaluate one arm and seed; its results row. `paths`: {"train": YAML, "eval": YAML,
    "runs": folder, "start": `Global.pretrained_model` with `{seed}` in it, or None, "multilabel": bool};
    `epochs`: a `Global.epochs` override (baseline_long). A run whose training ended (`trained`), before a stop or
    an evaluation that failed, is evaluated, not trained again; a run cut short in training is trained anew.
    Raises `RunFailed`."""
    folder = os.path.join(paths["runs"], f"{arm}_seed{seed}")
    name = f"{arm} seed {seed}"
    common = ["-o", f"Global.output_dir={folder}", "-o", f"Global.seed={seed}"]
    record = trained(folder, epochs, fingerprint(paths["train"]))
    if isinstance(record, str):  # why the folder's training is not taken
        if os.path.exists(folder):
            say(f"[compare] {name}: {record}: training it anew")
            shutil.rmtree(folder)
        os.makedirs(folder)
        record = train_one(name, folder, paths, tools_dir, common, seed, epochs)
    else:
        say(f"[compare] {name}: its training ended before (its weights in {folder}): evaluating them")
    try:
        values, eval_seconds = evaluate(name, folder, paths, tools_dir, common)
    except RunFailed as failed:
        if failed.stopped:  # an evaluation ended from outside: its training stays, and is evaluated next time
            raise
        # its training ended and its weights stay: the same command evaluates them again, not trains them
        raise RunFailed(
            f"{failed}; its training ended, so the same command evaluates its weights again (remove {folder} to "
            "train it anew)"
        ) from None
    return {"arm": arm, "seed": seed, **record, "eval_seconds": eval_seconds, **values, "folder": folder}


def train_one(name, folder, paths, tools_dir, common, seed, epochs):
    """`tools/train.py` of one run into `folder`; its record (epochs, seconds, CPU seconds, peak RSS), also kept in
    `folder/TRAINED` once the training ended. Raises `RunFailed`."""
    train = [sys.executable, os.path.join(tools_dir, "train.py"), "-c", paths["train"], *common]
    if epochs is not None:
        train += ["-o", f"Global.epochs={epochs}"]
    if paths.get("start"):  # each seed its own start weights
        train += ["-o", f"Global.pretrained_model={paths['start'].format(seed=seed)}"]
    code, train_seconds, peak_mb, train_cpu = run_tool(train, os.path.join(folder, "train.out"))
    if code != 0:
        raise failure(name, "tools/train.py", code, os.path.join(folder, "train.out"))
    record = {"epochs": epochs, "train_seconds": train_seconds, "train_cpu_seconds": train_cpu, "peak_rss_mb": peak_mb}
    write_text(os.path.join(folder, TRAINED), json.dumps({**record, "config": fingerprint(paths["train"])}))
    return record


def trained(folder, epochs, config):
    """The record `train_one` kept in `folder` for a training of `epochs` on the config whose `fingerprint` is
    `config` that ended, its final weights still there: {"epochs", *TRAINED_KEYS}, nothing else; for any other
    folder, why it is not taken (a str: a training cut short, other epochs or config, its weights deleted, a record
    edited or cut)."""
    path = os.path.join(folder, TRAINED)
    if not os.path.exists(path):
        return f"its training did not end (no {path})"
    if not os.path.exists(os.path.join(folder, "latest.pdparams")):
        return f"its weights ({os.path.join(folder, 'latest.pdparams')}) are gone"
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError, RecursionError) as error:
        return f"{path} does not read as a JSON record ({type(error).__name__})"
    numbers = isinstance(record, dict) and all(amount(record.get(key)) for key in TRAINED_KEYS)
    if not (numbers and (record.get("epochs", 0) is None or type(record.get("epochs")) is int)):
        return f"{path} is not a training record (epochs, and {', '.join(TRAINED_KEYS)} as numbers of 0 or more)"
    if record["epochs"] != epochs:
        return f"{path} records a training of {epochs_of(record['epochs'])}, this run is of {epochs_of(epochs)}"
    if record.get("config") != config:
        return f"{path} is of a training on another config than this run's"
    return {key: record[key] for key in ("epochs", *TRAINED_KEYS)}


def amount(value):
    """Whether `value` is a finite number of 0 or more (not a bool, not NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def fingerprint(path):
    """The SHA-256 of the file `path` (a run's training config, with every override in it)."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def epochs_of(epochs):
    """`Global.epochs` as said: None is the recipe's."""
    return "the recipe's epochs" if epochs is None else f"{epochs} epoch{'' if epochs == 1 else 's'}"


def evaluate(name, folder, paths, tools_dir, common):
    """(the run's metric values, eval seconds) of `tools/eval.py` on the run's `latest` weights: from the
    Calibration counts (`images`, `top1`, `nll`, `counts`) or, multi-label, from LabelCalibration's scores
    (`images`, `map`, `ma`, `nll` the mean BCE, `label_counts`: `label_summary`); single-label, with the
    balanced accuracy and the class counts of the list (`balanced_accuracy`, `support`) of the per-class results
    eval.py wrote. Raises `RunFailed`."""
    multilabel = paths.get("multilabel")
    written = os.path.join(folder, "scores.npz" if multilabel else "calibration.json")
    key = "Metric.Eval.0.LabelCalibration.scores_file" if multilabel else "Metric.Eval.1.Calibration.counts_file"
    command = [
        sys.executable, os.path.join(tools_dir, "eval.py"), "-c", paths["eval"], *common,
        "-o", f"Global.pretrained_model={os.path.join(folder, 'latest')}", "-o", f"{key}={written}",
    ]  # fmt: skip
    if paths.get("corruptions"):  # and on the corrupted copies (tools/eval.py --corruptions)
        command += ["--corruptions", paths["corruptions"]]
    code, eval_seconds, _, _ = run_tool(command, os.path.join(folder, "eval.out"))
    if code != 0 or not os.path.exists(written):
        raise failure(name, "tools/eval.py", code, os.path.join(folder, "eval.out"))
    corrupted = corrupted_values(folder) if paths.get("corruptions") else {}
    if multilabel:
        scores, targets = read_scores(written)
        return {"images": len(scores), **label_summary(scores, targets), **corrupted}, eval_seconds
    counts, nll_sum = read_counts(written)
    total = counts[0].sum()
    values = {"images": int(total), "top1": float(counts[2].sum() / total), "nll": nll_sum / total}
    per_class = os.path.join(folder, PER_CLASS_FILE)
    if os.path.exists(per_class):  # a model whose output is not one [B, C] tensor has none
        recorded = read_per_class(per_class)
        values.update(balanced_accuracy=recorded["balanced_accuracy"], support=recorded["support"])
    return {**values, "counts": counts.tolist(), **corrupted}, eval_seconds


def corrupted_values(folder):
    """A run's values on the corrupted copies, as `tools/eval.py --corruptions` wrote them in `folder`:
    {"corruptions": {"<name>/<severity>": values}, "corruptions_left_out": {name: why}}."""
    from ..corrupted_eval import read_results as read_corrupted

    found = read_corrupted(folder)
    return {"corruptions": found["lists"], "corruptions_left_out": found["left_out"]}


def time_left(todo, done):
    """Seconds the runs `todo` ((arm, seed) pairs) should take, from the runs `done`: each arm at its own
    mean (baseline_long at rdrop's), an arm not run yet at the mean of all; None before any run."""
    if not done:
        return None
    took = lambda rows: sum(r["train_seconds"] + r["eval_seconds"] for r in rows) / len(rows)  # noqa: E731
    overall = took(done)
    per_arm = {arm: took([r for r in done if r["arm"] == arm]) for arm in {r["arm"] for r in done}}
    return sum(per_arm.get("rdrop" if arm == "baseline_long" else arm, overall) for arm, _ in todo)


def minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


WEIGHT_FILES = (".pdparams", ".pdopt", ".pdstates", ".pdema")  # a checkpoint's files (best_model/ holds one too)


def remove_weights(folder):
    """Delete the checkpoint files (`WEIGHT_FILES`) under a run's `folder`; its logs and results stay. A file
    another process deleted meanwhile is no error."""
    for root, _, names in os.walk(folder):
        for name in names:
            if name.endswith(WEIGHT_FILES):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, name))


def keep_weights(done, keep, out=None):
    """Delete the weights of the runs `done` (results rows) but those `keep` keeps: None, none; "best", the best
    run's (`report.best_run`); "all", every run's. With `out`, a run's folder is the one of its name under
    `out/runs` (a copy of a comparison's folder never deletes in the original). Returns the row of the run whose
    weights are kept by "best"."""
    if keep == "all":
        return None
    best = best_run(done) if keep == "best" else None
    for row in done:
        if row is not best:
            remove_weights(os.path.join(out, "runs", os.path.basename(row["folder"])) if out else row["folder"])
    return best


def append_row(path, row):
    """`row` as one JSON line at the end of the file `path`, whole or not at all: a write that fails (a full disk)
    is cut back off the file, and the OSError names `path`."""
    data = (json.dumps(row) + "\n").encode("utf-8")
    with open(path, "ab", buffering=0) as handle:
        size = handle.seek(0, os.SEEK_END)
        try:
            written = 0
            while written < len(data):
                written += handle.write(data[written:])
        except OSError as error:
            handle.truncate(size)
            raise OSError(error.errno, error.strerror, path) from None


def headline(row):
    """The numbers of a finished run that its progress line gives."""
    if "map" in row:
        return f"mAP {100 * row['map']:.2f} %, BCE {row['nll']:.4f}"
    balanced = f", balanced accuracy {100 * row['balanced_accuracy']:.2f} %" if "balanced_accuracy" in row else ""
    return f"top-1 {100 * row['top1']:.2f} %{balanced}, NLL {row['nll']:.4f}"


def run_all(arms, seeds, out, paths, tools_dir, epochs, say=print, keep=None):
    """Every (arm, seed) not in `out`'s results file, appended to it as each ends, each run's weights then deleted
    but those `keep` keeps (`keep_weights`); the results rows."""
    done = read_results(out)
    todo = plan(arms, seeds, done)
    total = len(todo)
    for index, (arm, seed) in enumerate(todo, 1):
        left = time_left(todo[index - 1 :], done)
        say(f"[compare] run {index} of {total}: {arm} seed {seed}" + (f" (about {minutes(left)} left)" if left else ""))
        extra = long_epochs(done, seed, epochs) if arm == "baseline_long" else None
        row = run_one(arm, seed, paths[arm], tools_dir, extra, say)
        append_row(os.path.join(out, RESULTS), row)
        done.append(row)
        keep_weights(done, keep, out)
        say(
            f"[compare] {arm} seed {seed}: {headline(row)}, {row['train_seconds']:.0f} s of training"
            + (f" ({extra} epochs)" if extra else "")
        )
    return done
