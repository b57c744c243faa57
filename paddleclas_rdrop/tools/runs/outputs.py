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

from ...adapter.schema import written
from ...core.errors import ConfigError
from ..data.text import shown

if TYPE_CHECKING:
    from .checkpoints import NothingLeftToTrain

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


def new_schedule(checkpoint, output_dir=None):
    """The way to train on from the weights of `checkpoint` (a path without extension) on a new schedule:
    `-o Global.pretrained_model=<checkpoint>`, and another `Global.output_dir` where `checkpoint` is in
    `output_dir` (a run's folder is not written over)."""
    fix = f"to train on from its weights, start a new schedule with -o Global.pretrained_model={checkpoint}"
    if output_dir and os.path.abspath(os.path.dirname(checkpoint) or ".") == os.path.abspath(output_dir):
        fix += f" -o Global.output_dir={output_dir.rstrip('/')}_2"
    return fix


def go_on(checkpoint, config):
    """What a new run of `config` can do with the run whose newest whole checkpoint is `checkpoint` in its
    `Global.output_dir`: resume it, where a resume with this run's values trains something and `check_resume`
    takes them; where the run has trained its epochs, train on from its weights (`new_schedule`); else what
    `check_resume` says."""
    import paddle

    from .checkpoints import check_resume

    glob_section = config.get("Global") or {}
    epochs, out = glob_section.get("epochs"), glob_section.get("output_dir")
    state = paddle.load(checkpoint + ".pdstates")
    done, planned = int(state.get("epoch") or 0), (state.get("schedule") or {}).get("epochs")
    if any(isinstance(n, int) and done >= n for n in (epochs, planned)):
        finished = f"it has trained all {done} epochs of its schedule; {new_schedule(checkpoint, out)}"
        if out and os.path.abspath(checkpoint) != os.path.abspath(os.path.join(out, "latest")):
            # a stop cut the save of `latest` short: the resume's repair step makes it a copy (`repair_latest`)
            finished += f"; its latest is behind: resume with -o Global.checkpoints={checkpoint}; that makes it a copy"
        return finished
    try:
        check_resume(checkpoint, config)
    except ConfigError as refused:  # its own line says what a resume needs, or that only a new schedule trains
        return f"a resume from {checkpoint} with this run's values is refused ({str(refused).split(': ', 1)[1]})"
    return f"to go on with it, resume with -o Global.checkpoints={checkpoint}"


def check_no_other_run(config):
    """Refuse (`ConfigError`) a training run into a `Global.output_dir` that holds a run it does not resume.
    The line says what can be done with that run (`go_on`: resume it, or train on from its weights where it is
    finished), or that it holds no whole checkpoint."""
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
    offer = go_on(resume, config) if resume else "it holds no whole checkpoint to resume from"
    raise ConfigError(
        f"Global.output_dir {shown(out)} holds a run{held}, which this run would replace: {offer}; to start "
        f"anew, give another folder (-o Global.output_dir={base}_2) or remove {shown(out)} first"
    )


def check_outputs(config, mode):
    """Before anything is built: the folders the tool of `mode` writes are writable, and a training run does
    not write over another run. Raises `ConfigError`."""
    glob_section = config.get("Global") or {}
    for key in written(mode):
        if glob_section.get(key):
            check_writable(key, glob_section[key])
    if mode == "train":
        check_no_other_run(config)


OPTIMIZER_SLOTS = MappingProxyType(  # the state an optimizer keeps per weight, in copies of the weight
    {"SGD": 0, "Momentum": 1, "Adam": 2, "AdamW": 2, "AdamWDL": 2, "Lamb": 2, "RMSProp": 3}
)


def optimizer_slots(config):
    """The copies of the weights the `.pdopt` holds: Momentum's velocity, Adam's and AdamW's two moments, of the
    optimizer `Optimizer.name` names (the largest of PaddleClas's list of optimizers); 2 for a name not known."""
    from ...adapter.sections import optimizer_entries

    names = [params.get("name") or path.rsplit(".", 1)[-1] for path, params in optimizer_entries(config)]
    return max(OPTIMIZER_SLOTS.get(name, 2) for name in names)


def epochs_kept(config):
    """How many `epoch_<n>` checkpoints a run keeps at once: one every `Global.save_interval` of
    `Global.epochs`, at most `Global.keep_checkpoint_max`."""
    glob_section = config.get("Global") or {}
    epochs, interval = glob_section.get("epochs") or 1, glob_section.get("save_interval") or 1
    saved = epochs // interval if interval > 0 else 0
    keep = glob_section.get("keep_checkpoint_max")
    return min(saved, keep) if isinstance(keep, int) and not isinstance(keep, bool) and keep >= 1 else saved


TENSOR_BYTES = 128  # what paddle.save writes per tensor besides its values (its name, shape, dtype: about 100)
FILE_BYTES = 4096  # a checkpoint's `.pdstates` and the optimizer's learning-rate state


def checkpoint_bytes(model, config):
    """The bytes a training run of `model` writes into `Global.output_dir` at most, and what they are: `latest`,
    `best_model` (with its `best_model/model.pdparams` copy), the epoch checkpoints kept (`epochs_kept`) and one
    save in flight (written into a partial folder before it replaces the old one: a `best_model`, the largest).
    Each is a `.pdparams` (every tensor of the state dict, `TENSOR_BYTES` each besides its values), a `.pdopt`
    (`optimizer_slots` copies of the trainable weights), a `.pdema` with `EMA`, and `FILE_BYTES`."""
    state = model.state_dict().values()
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    weights = sum(int(value.numel()) * value.element_size() + TENSOR_BYTES for value in state)
    trained = sum(int(p.numel()) * p.element_size() + TENSOR_BYTES for p in trainable)
    slots = optimizer_slots(config)
    one = weights * (2 if config.get("EMA") else 1) + slots * trained + FILE_BYTES
    epochs = epochs_kept(config)
    total = (epochs + 3) * one + 2 * weights
    parts = [f"{weights / 2**20:.1f} MB of weights", "as much of EMA weights" if config.get("EMA") else ""]
    parts.append(f"{slots} times the trained ones in the optimizer state" if slots else "")
    what = (
        f"latest, best_model, {epochs} epoch checkpoint{'s' * (epochs != 1)} and a save in flight, each "
        f"{one / 2**20:.1f} MB: {', '.join(filter(None, parts))}"
    )
    return total, what


def check_room(model, config):
    """Refuse (`ConfigError`) a training run whose `Global.output_dir` has less free space than the
    checkpoints of `model` take (`checkpoint_bytes`)."""
    import shutil

    out = (config.get("Global") or {}).get("output_dir") or "."
    existing = out
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing.rstrip("/"))
    need, what = checkpoint_bytes(model, config)
    free = shutil.disk_usage(existing or ".").free
    if free < need:
        raise ConfigError(
            f"Global.output_dir {shown(out)}: {free / 2**20:.0f} MB free, but this model's checkpoints take about "
            f"{need / 2**20:.0f} MB ({what}): free some space, give a folder on another disk, or keep fewer "
            f"epoch checkpoints (-o Global.keep_checkpoint_max=1)"
        )
