"""What a run may write, checked before the model is built: the folders it writes are folders it can write,
and a training run never writes over another run.

A training run whose `Global.output_dir` already holds a run (`latest`, `best_model` or `epoch_*`) is refused
in one line naming the way to resume it and the ways to start anew, unless it resumes from that run
(`Global.checkpoints` in that folder). PaddleClas's own tools overwrite such a folder; the plugin's tools
refuse, because the run in it (its `best_model` above all) may be worth hours, and replacing it takes no
more than another folder name (README, "Your own data")."""

import glob
import os
import tempfile
from types import MappingProxyType
from typing import TYPE_CHECKING

from ...core.errors import ConfigError
from ..data.text import shown

if TYPE_CHECKING:
    from .checkpoints import NothingLeftToTrain

WRITTEN_BY_MODE = MappingProxyType(  # the Global keys of the folders each tool writes (read-only)
    {
        "train": ("output_dir",),
        "eval": ("output_dir",),
        "infer": ("output_dir",),
        "export": ("output_dir", "save_inference_dir"),
    }
)
RUN_FILES = ("latest.pdparams", "best_model.pdparams", "epoch_*.pdparams")


def check_writable(key, path):
    """`path` (the value of `Global.<key>`) is a folder, or can be made one, that this process can write;
    `ConfigError` naming the key otherwise."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(
            f"Global.{key} is {shown(path)}, which is a file, not a folder: give a folder, "
            f"e.g. -o Global.{key}={path}_run"
        )
    existing = path
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing.rstrip("/"))
    existing = existing or "."
    if not os.path.isdir(existing):
        raise ConfigError(f"Global.{key} is {shown(path)}, but {shown(existing)} is a file: give a folder elsewhere")
    try:  # a real write: permissions, a read-only file system (root passes os.access on either)
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        home = os.path.join(os.path.expanduser("~"), os.path.basename(path.rstrip("/")) or "output")
        raise ConfigError(
            f"Global.{key} is {shown(path)}, but {shown(existing)} cannot be written ({error.strerror}): give a "
            f"folder you can write, e.g. -o Global.{key}={home}"
        ) from None


def run_files(folder):
    """The checkpoint files of a run in `folder` (sorted), [] when it holds none."""
    return sorted(path for pattern in RUN_FILES for path in glob.glob(os.path.join(glob.escape(folder), pattern)))


def whole_epoch(prefix):
    """The epoch recorded by the checkpoint `prefix` where it is complete (`.pdparams`, `.pdopt` and a
    `.pdstates` that loads; an EMA's `.pdema` is not looked for), else None."""
    import paddle

    if not all(os.path.exists(prefix + suffix) for suffix in (".pdparams", ".pdopt", ".pdstates")):
        return None
    try:
        return int(paddle.load(prefix + ".pdstates").get("epoch") or 0)
    except Exception:  # a file that does not load is not a place to go on from
        return None


def resumable(folder):
    """The checkpoint prefix in `folder` a resume goes on from: of `latest` and `epoch_*`, the complete one
    (`whole_epoch`) at the highest recorded epoch, `latest` on a tie; `best_model` only where neither is
    complete (a run stopped while its last epoch's `latest` was being saved has a `best_model` of that epoch,
    from which nothing is left to train, and a `latest` that trains it again); None when there is none
    (stopped during its first save)."""
    found = []
    for states in glob.glob(os.path.join(glob.escape(folder), "*.pdstates")):
        prefix = states[: -len(".pdstates")]
        name = os.path.basename(prefix)
        if not (name in ("latest", "best_model") or name.startswith("epoch_")):
            continue
        epoch = whole_epoch(prefix)
        if epoch is not None:
            found.append((name != "best_model", epoch, name == "latest", prefix))
    return max(found)[3] if found else None


def complete_latest(checkpoint, output_dir):
    """Where a stop cut short the save of `latest` in `output_dir` after `checkpoint` (an `epoch_<n>` in that
    folder, complete, of a later epoch and written later) was whole, make `latest` a copy of `checkpoint`, as
    the stopped save would have: its files are copied into a folder beside them and committed
    (`checkpoints.commit`: flushed, then moved into place, the `.pdstates` last). Only the first process
    (rank 0) writes. Returns `(copied, had)`: whether `latest` is now the copy, and the epoch
    it had (None where it was not complete); a copy that cannot be written is not made (`copied` False)."""
    import shutil

    import paddle

    from ...core.errors import SaveError
    from .checkpoints import commit, partial_folder

    folder, name = os.path.split(checkpoint)
    folder = folder or "."
    latest = os.path.join(folder, "latest")
    epoch, had = whole_epoch(checkpoint), whole_epoch(latest)
    stopped = glob.glob(glob.escape(latest) + ".*") and (
        not os.path.exists(latest + ".pdstates")
        or os.path.getmtime(latest + ".pdstates") < os.path.getmtime(checkpoint + ".pdstates")
    )
    if not (
        name.startswith("epoch_")
        and epoch is not None
        and (had is None or had < epoch)
        and stopped
        and output_dir
        and os.path.abspath(folder) == os.path.abspath(output_dir)
        and paddle.distributed.get_rank() == 0
    ):
        return False, had
    partial = None
    try:
        partial = partial_folder(folder)
        for path in glob.glob(glob.escape(checkpoint) + ".*"):
            shutil.copyfile(path, os.path.join(partial, "latest" + path[len(checkpoint) :]))
        commit(partial, folder, "latest", None)
    except (OSError, SaveError):
        return False, had
    finally:
        if partial:
            shutil.rmtree(partial, ignore_errors=True)
    return True, had


def repair_latest(refusal: "NothingLeftToTrain") -> "NothingLeftToTrain":
    """The repair step of a resume refused because nothing is left to train (`refusal`, a
    `checkpoints.NothingLeftToTrain`): where a stop cut short the save of `latest` in the run's output folder
    after the refused `epoch_<n>` was whole, `latest` is made a copy of it (`complete_latest`). Returns the
    refusal to report: the same one, or one that also says `latest` is now a copy. Writes (on the first
    process only); raises nothing of its own (a copy that cannot be written is not made)."""
    copied, had = complete_latest(refusal.checkpoint, refusal.output_dir)
    return refusal.with_latest_copied(had) if copied else refusal


def check_no_other_run(config):
    """Refuse (`ConfigError`) a training run into a `Global.output_dir` that holds a run it does not resume.
    The line names the checkpoint to resume from (`resumable`), or says there is none."""
    import paddle

    glob_section = config.get("Global") or {}
    out, checkpoint = glob_section.get("output_dir"), glob_section.get("checkpoints")
    found = run_files(out) if out and os.path.isdir(out) else []
    if not found:
        return
    if checkpoint and os.path.abspath(os.path.dirname(checkpoint)) == os.path.abspath(out):
        return  # a resume of the run in that folder
    best = os.path.join(out, "best_model.pdstates")
    held = ""
    try:
        state = paddle.load(best) if os.path.exists(best) else None
    except Exception:  # a file cut short: the refusal stands without the metric
        state = None
    if isinstance(state, dict):
        held = f" (best_model: metric {state.get('metric', 0):.4f} at epoch {state.get('epoch')})"
    base = out.rstrip("/")
    resume = resumable(out)
    go_on = (
        f"to go on with it, resume with -o Global.checkpoints={resume}"
        if resume
        else "it holds no whole checkpoint to resume from"
    )
    raise ConfigError(
        f"Global.output_dir {shown(out)} holds a run{held}, which this run would replace: {go_on}; to start "
        f"anew, give another folder (-o Global.output_dir={base}_2) or remove {shown(out)} first"
    )


def check_outputs(config, mode):
    """Before anything is built: the folders the tool of `mode` writes are writable, and a training run does
    not write over another run. Raises `ConfigError`."""
    glob_section = config.get("Global") or {}
    for key in WRITTEN_BY_MODE[mode]:
        if glob_section.get(key):
            check_writable(key, glob_section[key])
    if mode == "train":
        check_no_other_run(config)


def check_room(model, config, copies=6):
    """Refuse (`ConfigError`) a training run whose `Global.output_dir` has less free space than `copies` x the
    model's weights (latest, best_model with its model.pdparams, an epoch checkpoint, and the optimizer state
    beside them)."""
    import shutil

    out = (config.get("Global") or {}).get("output_dir") or "."
    existing = out
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing.rstrip("/"))
    weights = sum(int(parameter.numel()) * parameter.element_size() for parameter in model.parameters())
    free = shutil.disk_usage(existing or ".").free
    if free < copies * weights:
        raise ConfigError(
            f"Global.output_dir {shown(out)}: {free / 2**20:.0f} MB free, but this model's checkpoints take about "
            f"{copies * weights / 2**20:.0f} MB ({weights / 2**20:.0f} MB of weights, {copies} copies): free some "
            f"space or give a folder on another disk"
        )
