"""Checkpoints written whole or not at all, on both engines.

PaddleClas's `save_model` (`ppcls.utils.save_load`, the same in the wheel and the source tree) writes
`<prefix>.pdparams`, `.pdopt`, `.pdstates` (and `.pdema`, `best_model/model.pdparams`) straight to their
final names: a kill or a full disk during a save leaves a truncated file that `paddle.load` refuses,
`latest` included. A `Checkpointer`, one per training run, wraps it (`Checkpointer.make_whole`): each save
runs into a folder beside the output (the same file system), flushes every file to disk, then moves each into
place with one `os.replace`, the `.pdstates` (the epoch a resume starts from) last; a save that fails leaves
the checkpoints already written as they were and raises `SaveError`. The flush and the moves run in the
Checkpointer's one background thread, in the order of the saves, while training goes on; the next save, and
the end of the run (leaving the Checkpointer's context), wait for them and raise the `SaveError` of one that
failed. The module holds no state of its own: everything a run's saves share is its Checkpointer's.

`Global.keep_checkpoint_max: N` (N >= 1) keeps the N newest `epoch_<n>` checkpoints: once a new one is
whole, the older ones beyond N are deleted. `latest` and `best_model` are never deleted, nor are epochs
after the one just saved (another run's, in the same folder). Unset, every epoch checkpoint is kept, as
PaddleClas does.
"""

import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ...adapter.schema import check, schedule_names
from ...adapter.sections import optimizer_entries, section_of
from ...core.errors import ConfigError, SaveError
from ...core.files import flush_to_disk, process_alive
from .log import renaming, rewriting_log


def remove_partial_saves(output_dir):
    """Delete the folders of saves that a killed run left half-written in `output_dir` (never a checkpoint:
    those are only ever moved into place whole), not those of a process still running; returns their paths."""
    import glob

    stale = []
    for folder in sorted(glob.glob(os.path.join(output_dir, ".partial-*-*"))):
        pid = os.path.basename(folder).split("-")[1]
        if pid.isdecimal() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            stale.append(folder)
    return stale


KEEP_KEY = "Global.keep_checkpoint_max"


def keep_of(config):
    """`Global.keep_checkpoint_max` of `config`: None (keep every epoch checkpoint) or an int >= 1, by the
    schema's rule. Raises `ConfigError` for any other value."""
    keep = section_of(config, "Global").get("keep_checkpoint_max")
    check(("Global", "keep_checkpoint_max"), keep)
    return keep


def remove_old_epochs(model_path, keep, saved):
    """Delete the files of the `epoch_<n>` checkpoints in `model_path` up to epoch `saved` (the one just
    written) but the `keep` newest; returns the prefixes deleted (paths without extension). Checkpoints of
    later epochs (another run's, in the same folder) are not this run's to delete."""
    import re

    epochs = {}
    for name in os.listdir(model_path):
        match = re.fullmatch(r"epoch_(\d+)\.pd[a-z]+", name)
        if match and int(match.group(1)) <= saved:
            epochs.setdefault(int(match.group(1)), []).append(name)
    removed = []
    for epoch in sorted(epochs, reverse=True)[keep:]:
        for name in epochs[epoch]:
            os.remove(os.path.join(model_path, name))
        removed.append(os.path.join(model_path, f"epoch_{epoch}"))
    return removed


def schedule_of(config, batches=None):
    """What a resume must share with the run it continues, for its learning rate to continue the curve it
    left: `Global.epochs`, the learning rate (a list of them for PaddleClas's list of optimizers, one per
    network), the rest of each `lr` section (the schedule's name, warm-up and decay points) and, with
    `batches` (`data.lists.train_batches`), the steps per epoch and what makes them."""
    optimizer = config.get("Optimizer") or {}
    rates_or_sections = [entry.get("lr") if isinstance(entry, dict) else None for _, entry in optimizer_entries(config)]
    # a plain number is a constant rate: a section of its learning rate alone
    sections = [dict(lr) if isinstance(lr, dict) else {"learning_rate": lr} for lr in rates_or_sections]
    rates = [section.pop("learning_rate", None) for section in sections]
    global_section = section_of(config, "Global")
    schedule = {
        "epochs": global_section.get("epochs"),
        "update_freq": global_section.get("update_freq", 1),  # steps per optimizer step
        "iter_per_epoch": global_section.get("iter_per_epoch"),  # PaddleClas's Engine's cut of an epoch
        "learning_rate": rates if isinstance(optimizer, list) else rates[0],
        "lr": sections if isinstance(optimizer, list) else sections[0],
    }
    return {**schedule, **(batches or {})}


def save_error(model_path, prefix, error):
    """The `SaveError` of the checkpoint `prefix` in `model_path` that `error` (an `OSError`) stopped. It names
    the newest whole checkpoint in `model_path` to resume from (`outputs.resumable`), or says none was written."""
    from .outputs import resumable

    newest = resumable(model_path) if os.path.isdir(model_path) else None
    then = (
        f"then resume with -o Global.checkpoints={newest}"
        if newest
        else "then run again: no whole checkpoint was written before it"
    )
    return SaveError(
        f"the checkpoint {os.path.join(model_path, prefix)} could not be written ({error.strerror or error}); "
        f"the checkpoints written before it are intact. Make {model_path} writable with room to spare, {then}"
    )


def partial_folder(model_path):
    """A new folder in `model_path` that a save is written into before `commit`: `.partial-<pid>-*`, the name
    `remove_partial_saves` looks for."""
    return tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=model_path)


def commit(partial, model_path, prefix, keep):
    """Flush every file of the save in `partial` to disk, move each into `model_path` (the `.pdstates`
    last), remove `partial`, and with `keep` the epoch checkpoints beyond the `keep` newest. Raises
    `SaveError` (`save_error`) for an `OSError`."""
    try:
        written = [
            os.path.relpath(os.path.join(folder, name), partial)
            for folder, _, names in os.walk(partial)
            for name in names
        ]
        for name in written:
            flush_to_disk(os.path.join(partial, name))
        for name in sorted(written, key=lambda n: n.endswith(".pdstates")):  # the epoch marker last
            os.makedirs(os.path.dirname(os.path.join(model_path, name)), exist_ok=True)
            os.replace(os.path.join(partial, name), os.path.join(model_path, name))
    except OSError as error:
        raise save_error(model_path, prefix, error) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    epoch = prefix.removeprefix("epoch_")
    if keep is not None and prefix != epoch and epoch.isdecimal():
        for removed in remove_old_epochs(model_path, keep, int(epoch)):
            logging.getLogger("ppcls").info(f"removed {removed}: {KEEP_KEY} is {keep}")


class Checkpointer:
    """The checkpoints of one training run, saved whole or not at all (the model of Lightning's
    `ModelCheckpoint`: one object with its own state). It owns the thread that flushes each save and moves
    it into place behind training (one at a time, in the order of the saves), the futures of those commits
    not yet waited for, the metric of the last `best_model` handed to that thread (per folder saved into),
    what every `.pdstates` records (`schedule`) and how many epoch checkpoints are kept (`keep`).

    Made by the run and closed at its end::

        with Checkpointer(output_dir, schedule_of(config), keep_of(config)) as checkpoints:
            save = checkpoints.make_whole(save_load.save_model)
            ...

    Entering it deletes the partial saves a killed run left in `output_dir` (`remove_partial_saves`), each
    named in a warning; leaving it waits for every commit (`close`). Nothing of it is shared with another
    `Checkpointer`, in this process or another."""

    def __init__(self, output_dir: str | None = None, schedule: dict | None = None, keep: int | None = None):
        """`output_dir`: the run's `Global.output_dir` (None: no folder to clean up on entering);
        `schedule`: `schedule_of(config)`, recorded in every `.pdstates` for `check_resume` (None: not
        recorded); `keep`: `keep_of(config)`, the number of newest `epoch_<n>` checkpoints kept (None:
        all)."""
        self.output_dir, self.schedule, self.keep = output_dir, schedule, keep
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rdrop-commit")  # threads: lazily
        self._commits = []  # the futures of the commits not yet waited for, oldest first
        self._queued_best = {}  # folder saved into -> the metric of the last best_model handed to the committer
        self._closed = False

    def __enter__(self) -> "Checkpointer":
        for stale in remove_partial_saves(self.output_dir) if self.output_dir else []:
            logging.getLogger("ppcls").warning(
                f"removed {stale}: a save that a killed run left half-written (the checkpoints are whole)"
            )
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        self.close(raising=kind is None)  # the stop or the error that ended training is the one reported
        return False

    @property
    def pending(self) -> tuple:
        """The `concurrent.futures.Future`s of the commits not yet waited for, oldest first."""
        return tuple(self._commits)

    def wait(self, in_flight: int = 0) -> None:
        """Raise the `SaveError` of the first commit that failed, of those done, and wait until at most
        `in_flight` commits are under way (0: every commit is done). A failed commit is raised once."""
        while self._commits and (self._commits[0].done() or len(self._commits) > in_flight):
            self._commits.pop(0).result()

    def let_saves_end(self, seconds: float) -> None:
        """For a process about to end (another thread may call it): wait at most `seconds` in all for the
        commits under way; raise nothing (a failed commit leaves the checkpoints before it whole)."""
        from concurrent.futures import wait

        wait(list(self._commits), timeout=seconds)

    def close(self, raising: bool = True) -> None:
        """Wait for every commit (`wait`) and end the commit thread. The `SaveError` of a failed commit is
        raised, or with `raising` False (training already ended with another error) logged as a warning.
        A save after `close` raises `RuntimeError`. Commits queued behind a failed one, or left by an
        interrupted wait (a second Ctrl-C), still run; the interpreter waits for them before it exits."""
        try:
            self.wait()
        except SaveError as error:
            if raising:
                raise
            logging.getLogger("ppcls").warning(str(error))
        finally:
            self._closed = True
            self._committer.shutdown(wait=False)  # done when wait() returned; else the stop is not held up

    def make_whole(self, save_model: Callable) -> Callable:
        """`save_model(net, optimizer, metric_info, model_path, ..., prefix=...)` (PaddleClas's
        `save_load.save_model`) made whole-or-nothing through this object: the save is written into a
        partial folder in `model_path` and handed to the commit thread; with `schedule`, the `.pdstates`
        also records it as `schedule`; a save other than `best_model` records the run's best metric as
        `best_metric`; with `keep`, an `epoch_<n>` save then deletes the epoch checkpoints older than the
        `keep` newest. The save returns None once queued; it raises `SaveError` for a write that fails
        (and for a commit before it that failed) and `NonFiniteLossError` for weights that are not finite.
        Only the first process (rank 0) saves, as PaddleClas does."""

        @functools.wraps(save_model)
        def save(net, optimizer, metric_info, model_path, *args, **kwargs):
            import paddle.distributed as dist

            if dist.get_rank() != 0:  # PaddleClas saves on rank 0 only
                return None
            self._save(save_model, net, optimizer, metric_info, model_path, *args, **kwargs)
            return None

        return save

    def _save(self, save_model, net, optimizer, metric_info, model_path, *args, **kwargs):
        from .guards import check_weights_finite

        if self._closed:
            raise RuntimeError(f"{model_path}: a save after the end of its run (this Checkpointer is closed)")
        # a commit that failed is raised here; one may still be under way (the best_model saved just
        # before this latest, say), so that saving never waits for a flush in the common case
        self.wait(in_flight=1)
        check_weights_finite(
            net, f"at the end of epoch {metric_info.get('epoch')}, before {kwargs.get('prefix')} was saved"
        )
        if self.schedule is not None:
            metric_info = {**metric_info, "schedule": self.schedule}
        prefix = kwargs.get("prefix", "ppcls")
        best = self._queued_best[model_path] if model_path in self._queued_best else best_of(model_path)
        if prefix == "best_model":
            self._queued_best[model_path] = metric_info.get("metric")
        if prefix != "best_model" and best is not None:  # what a resume carries over
            metric_info = {**metric_info, "best_metric": best}
        os.makedirs(model_path, exist_ok=True)
        partial = partial_folder(model_path)
        try:
            with rewriting_log(renaming(partial, model_path)):
                save_model(net, optimizer, metric_info, partial, *args, **kwargs)
        except BaseException as error:
            shutil.rmtree(partial, ignore_errors=True)
            if isinstance(error, OSError):
                raise save_error(model_path, prefix, error) from None
            raise
        self._commits.append(self._committer.submit(commit, partial, model_path, prefix, self.keep))


class NothingLeftToTrain(ConfigError):
    """A resume from `checkpoint` (a path without extension) that has trained `done` epochs, in a run of
    `epochs` (`Global.epochs`, at most `done`): nothing is left to train. `output_dir`: the run's
    `Global.output_dir`, where a stop may have left `latest` behind `checkpoint` (the repair step,
    `outputs.repair_latest`); `latest_copied`: whether that step made `latest` a copy of `checkpoint`, and
    `latest_had`: the epoch `latest` had before (None where it was not whole). The message says it all."""

    def __init__(
        self,
        checkpoint: str,
        done: int,
        epochs: int,
        output_dir: str | None = None,
        latest_copied: bool = False,
        latest_had: int | None = None,
    ):
        self.checkpoint, self.done, self.epochs, self.output_dir = checkpoint, done, epochs, output_dir
        self.latest_copied, self.latest_had = latest_copied, latest_had
        from .outputs import new_schedule

        folder, name = os.path.split(checkpoint)
        was = "incomplete" if latest_had is None else f"at epoch {latest_had}"
        latest = f" ({os.path.join(folder, 'latest')} was {was}, behind it; it is now a copy of {name})"
        super().__init__(
            f"Global.checkpoints: {checkpoint} has trained {done} epochs and Global.epochs is {epochs}, so "
            f"nothing is left to train{latest if latest_copied else ''}: {new_schedule(checkpoint, output_dir)} "
            "(and no Global.checkpoints)"
        )

    def with_latest_copied(self, latest_had: int | None) -> "NothingLeftToTrain":
        """The same refusal, saying that `latest` (which had epoch `latest_had`) is now a copy of the
        checkpoint."""
        return NothingLeftToTrain(self.checkpoint, self.done, self.epochs, self.output_dir, True, latest_had)


SETTABLE = ("Global.", "Optimizer.", "DataLoader.")  # the keys a resume's refusal offers to set with -o


def _leaves_that_differ(name, was, now):
    """How to make `now` at `name` what it `was`, one fix per key: `-o <key>=<value it was>`, or `without <key>`
    for a key of a section that it did not have; nothing for a list (one value per network has no -o key)."""
    if isinstance(was, list):
        return []
    if not isinstance(was, dict):
        return [f"-o {name}={was}"]
    now = now if isinstance(now, dict) else {}
    fixes = [f"-o {name}.{key}={value}" for key, value in was.items() if now.get(key) != value]
    return fixes + [f"without {name}.{key}" for key in now if key not in was]


def check_resume(checkpoint, config, batches=None):
    """Refuse (`ConfigError`) a resume from `checkpoint` whose schedule (`schedule_of(config, batches)`) is not
    the one it recorded, in any key both know: another batch size, process count, list or `drop_last` changes
    the steps per epoch, and with them where the warm-up and the decay fall; a cosine schedule continued over
    more epochs, or from a finished schedule, trains at learning rate 0. The learning rate is not rebuilt. The
    line offers a resume with the recorded values unless the checkpoint finished its schedule."""
    from .checkpoint_files import load_part, resume_parts
    from .outputs import new_schedule as fresh

    parts = resume_parts(config)
    state = load_part("Global.checkpoints", checkpoint, ".pdstates", parts)
    recorded, wanted = state.get("schedule"), schedule_of(config, batches)
    new_schedule = fresh(checkpoint, section_of(config, "Global").get("output_dir"))
    names = schedule_names()  # {a schedule record's name: how a user names it}
    differ = [key for key in names if recorded and key in recorded and key in wanted]
    differ = [key for key in differ if recorded[key] != wanted[key]]
    if differ:
        fixes = [(names[key], recorded[key], wanted[key]) for key in differ if names[key].startswith(SETTABLE)]
        # a section that differs (an `lr`), by its keys that differ
        fixes = [fix for name, was, now in fixes for fix in _leaves_that_differ(name, was, now)]
        fix = fixes[0] if fixes else "the same data and processes"
        finished = isinstance(recorded.get("epochs"), int) and state.get("epoch", 0) >= recorded["epochs"]
        same = "" if finished else f"resume with the same values ({fix}), or "  # a finished one: nothing to resume
        raise ConfigError(
            f"Global.checkpoints: {checkpoint} was trained with "
            + ", ".join(f"{names[k]}={recorded[k]}" for k in differ)
            + " and this run has "
            + ", ".join(f"{wanted[k]}" for k in differ)
            + f": {same}{new_schedule}"
        )
    if not recorded and os.path.exists(f"{checkpoint}.pdopt"):
        optimizers = load_part("Global.checkpoints", checkpoint, ".pdopt", parts)
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]  # older: one optimizer's dict
        finished = [o for o in optimizers if section_of(o, "LR_Scheduler").get("last_lr", 1.0) == 0.0]
        if finished and state.get("epoch", 0) < (wanted["epochs"] or 0):
            raise ConfigError(
                f"Global.checkpoints: {checkpoint} ends a schedule at learning rate 0, so resuming it with "
                f"Global.epochs={wanted['epochs']} would train at learning rate 0: {new_schedule}"
            )


def best_of(folder):
    """The metric of the `best_model` in `folder`, or None where there is none."""
    import paddle

    path = os.path.join(folder, "best_model.pdstates")
    return float(paddle.load(path).get("metric", -1.0)) if os.path.exists(path) else None


def carry_best(metric_info, checkpoint):
    """What an engine's resume takes as its best so far: the `metric_info` that PaddleClas's `init_model`
    read from `checkpoint` (the metric of the checkpoint's own epoch, and its epoch), with the metric
    raised to the best of the run (recorded in the checkpoint, or the `best_model` beside it), so that
    the first evaluation after a resume replaces `best_model` only if it beats the whole run's best."""
    if not metric_info:
        return metric_info
    best = metric_info.get("best_metric")
    if best is None:
        best = best_of(os.path.dirname(checkpoint))
    if best is not None and best > metric_info.get("metric", -1.0):
        metric_info = {**metric_info, "metric": best}
    return metric_info
