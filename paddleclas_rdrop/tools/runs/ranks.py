"""The processes of one multi-process training run (`paddle.distributed.launch`) stop together. A rank whose
run stops (a guard's error, a signal, an image that does not decode) writes its one line to a stop file in
`Global.output_dir` before it exits; every other rank watches for that file and, once it appears, prints
`error: rank <r> stopped the run: <its line>` and exits 1 at once. Without that, the other ranks wait in the
next collective until it times out, and gloo then aborts them with a C++ crash dump.

The file is `<output_dir>/.stopped-<PADDLE_MASTER>`, so the ranks must share the file system of the output
folder (one machine, or a shared folder across nodes); a file written more than `STALE_SECONDS` before this
rank started is not heeded, and rank 0 removes the file when the run ends without a stop. A rank told to
stop first waits (up to `COMMIT_SECONDS`) for the checkpoint it is writing, if any, to be whole. One
process, or no `PADDLE_MASTER`, leaves everything as it is."""

import os
import sys
import threading
import time

POLL_SECONDS = 0.1  # how often a rank looks for the stop file
GRACE_SECONDS = 1.0  # how long the stopping rank waits before it exits, so that the others go first
STALE_SECONDS = 60  # a stop file this much older than the rank's start is an earlier run's
COMMIT_SECONDS = 60  # how long a rank told to stop waits for the checkpoint it is writing


def stop_file(output_dir):
    """The stop file of this job in `output_dir`, or None outside a multi-process run."""
    master = os.environ.get("PADDLE_MASTER")
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1")) < 2 or not master:
        return None
    return os.path.join(output_dir, f".stopped-{master.replace(':', '-')}")


class StopTogether:
    """While training runs in this context, a daemon thread watches for the stop file of another rank
    (`stop_file`); `tell(line)` writes this rank's. Outside a multi-process run both do nothing."""

    def __init__(self, output_dir, checkpoints=None):
        """`output_dir`: the run's `Global.output_dir`, where the stop file is; `checkpoints`: the run's
        `checkpoints.Checkpointer`, whose saves under way a rank told to stop lets end first (None: no
        saves to wait for)."""
        self.path = stop_file(output_dir)
        self.checkpoints = checkpoints
        self.rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
        self.started = time.time()
        self.told = self.written = False

    def __enter__(self):
        if self.path:
            threading.Thread(target=self._watch, daemon=True, name="rdrop-stop-together").start()
        return self

    def __exit__(self, kind, *exc):
        if self.path and kind is None and self.rank == 0 and os.path.exists(self.path):
            os.remove(self.path)
        if self.written:  # the error told is `told` by now: a signal during the grace adds no line of its own
            time.sleep(GRACE_SECONDS)
        return False

    def _watch(self):
        while True:
            time.sleep(POLL_SECONDS)
            if self.told or not os.path.exists(self.path):
                continue
            try:
                if os.path.getmtime(self.path) < self.started - STALE_SECONDS:
                    continue  # an earlier run's, on the same master port
                with open(self.path, encoding="utf-8") as handle:
                    rank, line = handle.read().split("\n", 1)
                rank = int(rank)
            except (OSError, ValueError):
                continue  # not yet whole
            if rank == self.rank:
                continue
            if self.checkpoints is not None:
                self.checkpoints.let_saves_end(COMMIT_SECONDS)  # rank 0's checkpoint under way is made whole first
            print(f"error: rank {rank} stopped the run: {line.strip().removeprefix('error: ')}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(1)  # the main thread may wait in a collective that will never end

    def tell(self, line):
        """Print `line` (this rank's stop line: the launcher may end this process once the others are gone) and
        write it for the other ranks, who get `GRACE_SECONDS` to go as the context ends. Returns whether it
        printed."""
        if not self.path or self.told:
            return False
        self.told = True
        print(line, file=sys.stderr, flush=True)
        partial = f"{self.path}.{self.rank}.partial"
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(f"{self.rank}\n{line}\n")
            os.replace(partial, self.path)
            self.written = True
        except OSError:
            pass  # an unwritable output folder: the other ranks end as they would have
        return True
