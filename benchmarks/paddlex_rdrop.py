"""R-Drop under PaddleX 3.x, end to end: a real PaddleX training run of one CPU epoch on a tiny digits dataset.

    python benchmarks/paddlex_rdrop.py --paddlex-root /path/to/paddlex-3.7.2 --work /tmp/paddlex_rdrop
    python benchmarks/paddlex_rdrop.py --paddlex-root /path/to/paddlex-3.7.2 --work /tmp/paddlex_rdrop --wrong-key

Run it with the interpreter that has `paddlex` (its runtime dependencies too), paddlepaddle and this plugin;
PaddleX trains with that same interpreter. `--paddlex-root` (default: $PADDLEX_ROOT) is PaddleX's source
folder, with `main.py`; its PaddleClas repo must be installed (`paddlex/repo_manager/repos/PaddleClas` with
an `.installed` marker): offline, symlink a PaddleClas source tree ($PADDLECLAS_ROOT) into it:

    R=<paddlex-root>/paddlex/repo_manager/repos/PaddleClas; mkdir -p $R
    for f in $PADDLECLAS_ROOT/*; do ln -sf "$f" $R/; done; touch $R/.installed

The run: 64 train and 32 val digits of classes 0-3 as 32x32 RGB PNGs in PaddleX's classification layout
(`<work>/digits`); `tools/paddlex_config.py --model <model>` writes the PaddleClas YAML with R-Drop
(`<work>/rdrop.yaml`); PaddleX's train command it prints runs with `-o Train.epochs_iters=1
-o Train.batch_size=16 -o Train.num_classes=4 -o Global.output=<work>/output`; PaddleClas's log, which
PaddleX writes to `<work>/output/train.log`, must have `RDropLoss` on every step line and the plugin's
`[R-Drop] alpha x KL is ...` epoch line. Exit 0, or 1 with the reason, or 2 when PaddleX is not set up.

`--wrong-key` adds the unknown key `RDrop.passess: 2` to the YAML instead: PaddleClas's process must print
exactly one line `error: ...` naming it and no traceback; the report shows what PaddleX printed after that.
PaddleX's cache (its temporary configs) goes to `<work>/pdx_cache`; nothing is downloaded.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(PROJECT, "tools", "paddlex_config.py")
REPO = os.path.join("paddlex", "repo_manager", "repos", "PaddleClas")
CLASSES, TRAIN, VAL, SIZE = 4, 64, 32, 32
SPEED = ["Train.epochs_iters=1", "Train.batch_size=16", f"Train.num_classes={CLASSES}", "Train.log_interval=1"]
WRONG_KEY = "passess"
STEP = re.compile(r"\[Train\]\[Epoch \d+/\d+\]\[Iter: \d+/\d+\]")
RDROP_LOSS = re.compile(r"RDropLoss: ([-+\d.eEnaif]+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMEOUT = 1800  # s, the whole PaddleX run


class Failed(Exception):
    """A check failed: exit 1 with the message."""


def setup_problem(paddlex_root):
    """What is missing for PaddleX to train PaddleClas from `paddlex_root`, as one line to act on, or None."""
    if not os.path.isfile(os.path.join(paddlex_root, "main.py")):
        return (
            f"--paddlex-root {paddlex_root} has no main.py: give PaddleX's source folder "
            "(pip download paddlex --no-deps --no-binary :all:, unpacked)"
        )
    probe = subprocess.run([sys.executable, "-c", "import paddlex"], cwd=paddlex_root, capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return (
            f"`import paddlex` fails for {sys.executable} in {paddlex_root} ({last}): install PaddleX's runtime "
            "dependencies for this interpreter (`pip install paddlex` brings them, or the missing module's package)"
        )
    repo = os.path.join(paddlex_root, REPO)
    marker, train = os.path.join(repo, ".installed"), os.path.join(repo, "tools", "train.py")
    if not (os.path.isfile(marker) and os.path.isfile(train)):
        return (
            f"PaddleX's PaddleClas repo is not installed at {repo} (needs tools/train.py and .installed): online, "
            "`paddlex --install PaddleClas`; offline, with PADDLECLAS_ROOT a PaddleClas source tree: "
            f'R={repo}; mkdir -p $R; for f in $PADDLECLAS_ROOT/*; do ln -sf "$f" $R/; done; touch $R/.installed'
        )
    return None


def write_dataset(folder):
    """64 train and 32 val digits of classes 0-3 as SIZE px RGB PNGs in PaddleX's classification layout."""
    import numpy as np
    from PIL import Image

    from paddleclas_rdrop.tools.data.demo import digits_images

    images, labels = digits_images(size=SIZE)
    chosen = np.flatnonzero(labels < CLASSES)[: TRAIN + VAL]
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    rows = []
    for n, index in enumerate(chosen):
        path = f"images/{n:03d}.png"
        Image.fromarray(images[index]).save(os.path.join(folder, path))
        rows.append(f"{path} {labels[index]}\n")
    for name, lines in (("train.txt", rows[:TRAIN]), ("val.txt", rows[TRAIN:])):
        with open(os.path.join(folder, name), "w") as handle:
            handle.writelines(lines)
    with open(os.path.join(folder, "label.txt"), "w") as handle:
        handle.writelines(f"{label} {label}\n" for label in range(CLASSES))
    return folder


def write_config(paddlex_root, model, path):
    """Run the plugin's helper for `model`; returns the PaddleX train command it printed (one line)."""
    result = subprocess.run(
        [sys.executable, HELPER, "--model", model, "--paddlex-root", paddlex_root, "--out", path, "--force"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Failed(f"tools/paddlex_config.py exited {result.returncode}: {result.stderr.strip()[-1500:]}")
    lines = result.stdout.splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("cd ") and " main.py " in line]
    if len(commands) != 1:
        raise Failed(f"tools/paddlex_config.py printed no PaddleX train command:\n{result.stdout}")
    return commands[0]


def add_wrong_key(path):
    """Add the unknown key RDrop.passess: 2 to the YAML at `path`."""
    import yaml

    from paddleclas_rdrop.tools.data.config_file import read_config

    config = read_config(path)
    config["RDrop"][WRONG_KEY] = 2
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def train_args(command, dataset, output):
    """(cwd, argv) of the helper's `cd <root> && python main.py ...` for `dataset`, run by this interpreter,
    with the speed overrides and the output folder."""
    words = shlex.split(command.replace("<your dataset>", shlex.quote(dataset)))
    if words[0] != "cd" or words[2] != "&&" or words[3] != "python" or words[4] != "main.py":
        raise Failed(f"not a `cd <root> && python main.py ...` command: {command}")
    overrides = [*SPEED, f"Global.output={output}"]
    return words[1], [sys.executable, *words[4:], *[arg for key in overrides for arg in ("-o", key)]]


def run_paddlex(cwd, argv, work, console):
    """Run PaddleX's train command, its output to the file `console`; returns (exit code, seconds)."""
    env = {
        **os.environ,
        "PADDLE_PDX_CACHE_HOME": os.path.join(work, "pdx_cache"),
        "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True",
    }
    start = time.perf_counter()
    with open(console, "w") as handle:
        try:
            code = subprocess.run(argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failed(f"PaddleX ran over {TIMEOUT} s; its output is in {console}") from None
    return code.returncode, time.perf_counter() - start


def read(path):
    if not os.path.isfile(path):
        raise Failed(f"PaddleX wrote no {path}")
    with open(path, errors="replace") as handle:
        return ANSI.sub("", handle.read())


def check_rdrop_log(log):
    """The summary lines of a PaddleClas train log with RDropLoss on every step; Failed if not."""
    steps = [line for line in log.splitlines() if STEP.search(line)]
    if not steps:
        raise Failed("no [Train][Epoch ...][Iter: ...] step line in PaddleClas's log")
    missing = [line for line in steps if not RDROP_LOSS.search(line)]
    if missing:
        raise Failed(f"{len(missing)} of {len(steps)} step lines have no RDropLoss, e.g.: {missing[0]}")
    epoch_lines = [line.split(" INFO: ", 1)[-1] for line in log.splitlines() if "[R-Drop] alpha x KL is" in line]
    if not epoch_lines:
        raise Failed("no `[R-Drop] alpha x KL is ...` epoch line in PaddleClas's log")
    values = [float(RDROP_LOSS.search(line).group(1)) for line in steps]
    return [
        f"step lines: {len(steps)}, RDropLoss on every one",
        f"RDropLoss: {min(values):.5f} .. {max(values):.5f} (first {values[0]:.5f}, last {values[-1]:.5f})",
        *epoch_lines,
    ]


def check_wrong_key(code, log, console):
    """The summary lines of the --wrong-key run; Failed unless PaddleClas's process printed exactly one
    `error:` line naming the key and no traceback, and PaddleX failed."""
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    if code == 0:
        raise Failed("PaddleX trained with the unknown key RDrop.passess: it was not refused")
    if len(errors) != 1 or f"RDrop.{WRONG_KEY}" not in errors[0]:
        raise Failed(f"PaddleClas printed {len(errors)} `error:` lines, not one naming RDrop.{WRONG_KEY}: {errors}")
    if "Traceback" in log:
        raise Failed("PaddleClas's process printed a traceback:\n" + log[log.index("Traceback") :][:3000])
    child = set(log.splitlines())
    lines = console.splitlines()
    start = lines.index(errors[0]) + 1 if errors[0] in lines else 0
    after = [line for line in lines[start:] if line not in child and line.strip()]
    return [
        f"PaddleX exit code: {code}; PaddleClas's one error line:",
        f"  {errors[0]}",
        f"no traceback from PaddleClas's process; PaddleX printed after it ({len(after)} lines):",
        *(f"  {line}" for line in (after if len(after) <= 4 else [after[0], "...", *after[-2:]])),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paddlex-root", default=os.environ.get("PADDLEX_ROOT"), help="PaddleX's source folder")
    parser.add_argument("--work", required=True, help="the folder for the dataset, the YAML and PaddleX's output")
    parser.add_argument("--model", default="PP-LCNet_x0_25", help="PaddleX's model name (default PP-LCNet_x0_25)")
    parser.add_argument("--wrong-key", action="store_true", help=f"add RDrop.{WRONG_KEY} and check the refusal")
    args = parser.parse_args()
    if not args.paddlex_root:
        print("give --paddlex-root (or set PADDLEX_ROOT): PaddleX's source folder, with main.py")
        return 2
    paddlex_root, work = os.path.abspath(args.paddlex_root), os.path.abspath(args.work)
    problem = setup_problem(paddlex_root)
    if problem:
        print(problem)
        return 2
    output = os.path.join(work, "output_wrong_key" if args.wrong_key else "output")
    shutil.rmtree(output, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    try:
        dataset = write_dataset(os.path.join(work, "digits"))
        config = os.path.join(work, "wrong_key.yaml" if args.wrong_key else "rdrop.yaml")
        cwd, argv = train_args(write_config(paddlex_root, args.model, config), dataset, output)
        if args.wrong_key:
            add_wrong_key(config)
        console = os.path.join(work, "paddlex_console_wrong_key.log" if args.wrong_key else "paddlex_console.log")
        print("running: cd", shlex.quote(cwd), "&&", shlex.join(argv), flush=True)
        code, seconds = run_paddlex(cwd, argv, work, console)
        log = read(os.path.join(output, "train.log"))
        if args.wrong_key:
            summary = check_wrong_key(code, log, read(console))
        else:
            if code != 0:
                raise Failed(f"PaddleX exited {code}; its output is in {console}:\n{read(console)[-3000:]}")
            summary = check_rdrop_log(log)
    except Failed as failed:
        print(f"FAILED: {failed}")
        return 1
    print(f"PaddleX {args.model}, {seconds:.1f} s; PaddleClas's log: {os.path.join(output, 'train.log')}")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
