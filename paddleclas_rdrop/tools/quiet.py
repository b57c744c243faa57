"""What the tools do not print: start-up lines that tell a user nothing they can act on.

- Paddle's "No ccache found" warning (about compiling C++ extensions, which the tools never do).
- Paddle's "OMP_NUM_THREADS set to N, not 1 ... PLEASE USE OMP_NUM_THREADS WISELY" when the tools
  use the machine's cores on purpose; the tools' first line says how many threads run.
- The two faiss lines of the paddleclas wheel (it loads faiss for image retrieval).
- PaddleClas's "A new field (...) detected!" for every `-o` key the YAML does not spell out.
- Paddle's "full_graph=False don't support input_spec arguments" warning at every export (PaddleClas's
  export code passes an input spec; the export is right, and nothing in it is the user's to change).
- The second copy of every log line when both the wheel's and the tree's PaddleClas logger set
  up the one `ppcls` logger (each adds a console handler).
- Paddle's "Paddle static graph(PIR) not support input out tensor for now!!!!!" (a C++ warning on
  stderr) at every export of PaddleClas's models; the export is right.
- The config, printed by every tool's engine: only `tools/train.py` prints it (`prebuilt`).
- Paddle's "Error: Can not import paddle core while this file exists: .../libpaddle.so" when a Ctrl-C cut the
  import short (`interrupts` says so in one line), and paddle's C++ stack dump at a SIGTERM (`interrupts`).
- Paddle's "DataLoader N workers exit unexpectedly" once a tool's work is done: the loader's workers
  end with the process, which is expected then.
- Paddle's "There are some unused values in state_dict ... 'LearningRateDecay'" at a resume of a warmed-up
  schedule: `LinearWarmup.state_dict` saves its wrapped schedule's state under `LinearWarmup_LR`, and the base
  `LRScheduler.set_state_dict` it calls first warns about that key before `LinearWarmup` loads it itself
  (`paddle/optimizer/lr.py`). Only that case is silent (`resuming_quietly`); any other unused key still warns.

And what the tools print in other words (`runs.log.RewriteLog`):
- `lr(LinearWarmup)` once the warm-up is over: the name of the schedule it wraps (`lr_name`).
- `[Eval][Epoch 0]` from `tools/eval.py`, which evaluates no epoch: `[Eval]`.
- A temporary folder in a save or export line ("saved in .../inference.partial-XXXX"): its final path.
"""

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings

from ..adapter.patch import patched
from .runs.interrupts import holding_stops, interrupted

PADDLE_THREAD_ADVICE = ("WARNING: OMP_NUM_THREADS set to", "PLEASE USE OMP_NUM_THREADS WISELY.")
PADDLE_CORE_ERROR = "Error: Can not import paddle core"  # paddle/base/core.py, whenever importing libpaddle fails


class _DropLines(io.TextIOBase):
    """A text stream that passes every line to `stream` except those starting with `prefixes` (kept in
    `dropped`)."""

    def __init__(self, stream, prefixes):
        self.stream, self.prefixes, self.pending, self.dropped = stream, prefixes, "", []

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._pass(line + "\n")
        return len(text)

    def _pass(self, line):
        if line.startswith(self.prefixes):
            self.dropped.append(line)
        else:
            self.stream.write(line)

    def flush(self):
        if self.pending:
            self._pass(self.pending)
        self.pending = ""
        self.stream.flush()


@contextlib.contextmanager
def dropping_lines(stream_name, prefixes):
    """Within the context, `sys.<stream_name>` (stdout or stderr) drops the lines that start with
    `prefixes` (the context's value, a `_DropLines`, keeps them in `dropped`); the original stream is put back on
    leaving, whatever happens inside."""
    filtered = _DropLines(getattr(sys, stream_name), prefixes)
    with patched(sys, **{stream_name: filtered}):
        try:
            yield filtered
        finally:
            filtered.flush()


def import_paddle_quietly():
    """`import paddle` without the start-up noise above. Process-wide and kept for the life of the tool's
    process (a tool imports paddle once): two `warnings` filters (ccache, export input spec) and the
    `faiss.loader` log level WARNING; `warnings.resetwarnings()` and the logger's `setLevel` undo them. A Ctrl-C or
    SIGTERM during the import acts once it ends, and SIGTERM keeps its handler of before the import, not paddle's C++
    stack dump (`interrupts.holding_stops`); an import that ends otherwise (a broken install) keeps paddle's "Can
    not import paddle core" line."""
    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message="full_graph=False don't support input_spec")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    with holding_stops(), dropping_lines("stderr", PADDLE_THREAD_ADVICE + (PADDLE_CORE_ERROR,)) as filtered:
        try:
            import paddle  # noqa: F401
        except BaseException as error:
            if not interrupted(error):  # a broken install: paddle's own line stays
                filtered.stream.writelines(line for line in filtered.dropped if line.startswith(PADDLE_CORE_ERROR))
            if isinstance(error, ModuleNotFoundError) and error.name == "paddle":
                raise paddle_missing() from None
            raise


def paddle_missing():
    from ..core.errors import ConfigError

    return ConfigError(
        'Paddle is not installed: pip install -c constraints.txt -e ".[cpu]" for the CPU build, or '
        "Paddle's CUDA build (paddlepaddle-gpu) for a GPU, as the README's Install says"
    )


def leave_logger_to_tree():
    """Take the wheel's console handler off the `ppcls` logger (the wheel adds it on import), so
    that the tree's logger, set up next by PaddleClas's Engine, adds the only one. Kept for the life of
    the process: PaddleClas's `init_logger` puts a console handler back whenever it is called."""
    logger = logging.getLogger("ppcls")
    for handler in [h for h in logger.handlers if h.get_name() == "stream_handler"]:
        logger.removeHandler(handler)


@contextlib.contextmanager
def dropping_fd_lines(fd, substrings):
    """Within the context, what is written to the file descriptor `fd` (2: stderr, where Paddle's C++
    warnings go) is held in a temporary file; on leaving, its lines that contain none of `substrings`
    are written to `fd`, in order. For short steps only (an export): the lines come out at its end."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), fd)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            held.seek(0)
            for line in held.read().splitlines(keepends=True):
                if not any(text.encode() in line for text in substrings):
                    os.write(fd, line)


PIR_EXPORT_WARNING = "Paddle static graph(PIR) not support input out tensor"


def engine_log_words(engine, mode):
    """The rewrite of the engine's log lines (for `rewriting_log`): the schedules' names after warm-up,
    and no epoch for `tools/eval.py`."""

    from .runs.log import lr_name

    def rewrite(message):
        if "lr(LinearWarmup)" in message:
            for schedule in getattr(engine, "lr_sch", None) or []:
                if type(schedule).__name__ == "LinearWarmup":  # the one this lr(LinearWarmup) names, in order
                    message = message.replace("lr(LinearWarmup)", f"lr({lr_name(schedule)})", 1)
        if mode == "eval":
            message = message.replace("[Eval][Epoch 0]", "[Eval]")
        return message

    return rewrite


class _FinishedLoaderWorkers(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        return not (message.startswith("DataLoader ") and "workers exit unexpectedly" in message)


def quiet_after_success():
    """Once a tool's work is done: drop Paddle's "DataLoader N workers exit unexpectedly" warning
    (the root logger's), which the loader's workers give when they end with the process."""
    logging.getLogger().addFilter(_FinishedLoaderWorkers())


UNUSED_LR_STATE = "There are some unused values in state_dict"  # paddle/optimizer/lr.py, LRScheduler.set_state_dict
WARMUP_STATE_KEY = "LinearWarmup_LR"  # where paddle's LinearWarmup saves the state of the schedule it wraps


def expected_lr_state(schedule, state):
    """Whether loading `state` into the learning-rate `schedule` gives Paddle's unused-values warning for
    nothing but `LinearWarmup`'s own `LinearWarmup_LR` key (at this level and in the schedule it wraps)."""
    from paddle.optimizer.lr import LinearWarmup, LRScheduler

    if not isinstance(schedule, LRScheduler) or not isinstance(state, dict):
        return False
    schedule.state_keys()
    extra = set(state) - set(schedule.keys)
    if not isinstance(schedule, LinearWarmup):
        return not extra
    inner = schedule.learning_rate
    inner_state = state.get(WARMUP_STATE_KEY)
    return extra == {WARMUP_STATE_KEY} and (not isinstance(inner, LRScheduler) or expected_lr_state(inner, inner_state))


@contextlib.contextmanager
def resuming_quietly():
    """Within the context (a training run, whose resume loads the schedule's state), Paddle's
    `LinearWarmup.set_state_dict` loads a state without the unused-values warning where that warning is only
    about its own wrapped schedule's key (`expected_lr_state`); the method is put back on leaving."""
    from paddle.optimizer.lr import LinearWarmup

    load = LinearWarmup.set_state_dict

    def set_state_dict(self, state_dict):
        if not expected_lr_state(self, state_dict):
            return load(self, state_dict)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=UNUSED_LR_STATE, category=UserWarning)
            return load(self, state_dict)

    with patched(LinearWarmup, set_state_dict=set_state_dict):
        yield
