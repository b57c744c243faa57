"""SIGINT (Ctrl-C) and SIGTERM (a pre-empted machine) stop a training run of the tools at a safe point,
with one line that says what was saved and how to resume.

A terminal's Ctrl-C signals the whole process group, the data loader's worker processes
(`DataLoader.*.loader.num_workers` > 0) too. They are forked while training runs, so they inherit the handler
that only records the signal, and go on until the process that stopped ends; Python's `multiprocessing` then
terminates them at exit (SIGTERM), and Paddle's SIGCHLD handler (`paddle/io/multiprocess_utils.py`,
`_set_SIGCHLD_handler`) would raise `SystemError: (Fatal) DataLoader process ... killed by signal: Terminated`
from within that exit. A SIGTERM sent to the whole group (a machine or container shutting down) ends the workers at
once: paddle's worker loop installs its own SIGTERM handler (`core._set_process_signal_handler`), whatever its
parent's. So once a signal is recorded, SIGCHLD is ignored for the rest of the process (`StopOnSignals`),
and a loader that fails after it (its workers gone) is the stop's doing: the guards stop training with the stop's
line (`guards.guard_training`)."""

import os
import signal
import time

from .interrupts import ignore, take

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """While training runs in this context, the first SIGINT or SIGTERM is only recorded (`requested()`
    returns its name until then None; one the process started with ignored stays ignored, `interrupts.take`),
    and the guards stop training before the next step is applied;
    a second one acts as usual (Python's KeyboardInterrupt, or termination). This is the tools' one
    change to the process's signal handlers; the previous handlers are put back on leaving, and from the moment
    a signal is recorded, SIGCHLD is ignored for the rest of the process (the module's docstring says
    why)."""

    def __init__(self):
        self.received, self.previous = None, {}

    def __enter__(self):
        self.started = time.time()
        for number in SIGNALS:
            self.previous[number] = take(number, self._record)  # one started ignored stays ignored
        return self

    def _record(self, number, frame):
        self.received = number
        for again in SIGNALS:  # a second signal is not deferred
            signal.signal(again, self.previous[again])
        signal.signal(signal.SIGCHLD, ignore)  # workers the signal ended are not a loader failure

    def requested(self):
        return signal.Signals(self.received).name if self.received is not None else None

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False


def stopped_line(stop, output_dir, started, resumed_from=None):
    """The line a stopped run ends with: the signal, where it stopped, and the checkpoint in `output_dir`
    to resume from: `latest` if this run (started at time `started`) wrote it or resumed from it."""
    import paddle

    latest = os.path.join(output_dir, "latest")
    where = (
        f"stopped by {stop.signal_name} in epoch {stop.epoch}, after {stop.step} steps of this run, before the "
        f"next step was applied"
    )
    ours = os.path.exists(latest + ".pdstates") and (
        os.path.getmtime(latest + ".pdstates") >= started
        or (resumed_from and os.path.abspath(resumed_from) == os.path.abspath(latest))
    )
    if not ours:
        return f"{where}; this run had saved nothing yet (no epoch had finished)"
    epoch = paddle.load(latest + ".pdstates").get("epoch")
    return f"{where}; the last checkpoint is {latest} (epoch {epoch}): resume with -o Global.checkpoints={latest}"
