"""The processes of one multi-process training run (`paddle.distributed.launch`) stop together. A rank whose
run stops (a guard's error, a signal, an image that does not decode) writes its one line to a stop file in
`Global.output_dir` before it exits; every other rank watches for that file and, once it appears, prints
`error: rank <r> stopped the run: <its line>` and exits 1 at once. Without that, the other ranks wait in the
next collective until it times out, and gloo then aborts them with a C++ crash dump.

The file is `<output_dir>/.stopped-<PADDLE_MASTER>`, so the ranks must share the file system of the output
folder (one machine, or a shared folder across nodes); a file older than the run is not heeded. One
process, or no `PADDLE_MASTER`, leaves everything as it is."""

import os
import sys
import threading
import time

POLL_SECONDS = 0.1  # how often a rank looks for the stop file
GRACE_SECONDS = 1.0  # how long the stopping rank waits before it exits, so that the others go first


def stop_file(output_dir):
    """The stop file of this job in `output_dir`, or None outside a multi-process run."""
    master = os.environ.get("PADDLE_MASTER")
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1")) < 2 or not master:
        return None
    return os.path.join(output_dir, f".stopped-{master.replace(':', '-')}")


class StopTogether:
    """While training runs in this context, a daemon thread watches for the stop file of another rank
    (`stop_file`); `tell(line)` writes this rank's. Outside a multi-process run both do nothing."""

    def __init__(self, output_dir):
        self.path = stop_file(output_dir)
        self.rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
        self.started = time.time()
        self.told = False

    def __enter__(self):
        if self.path:
            threading.Thread(target=self._watch, daemon=True, name="rdrop-stop-together").start()
        return self

    def __exit__(self, *exc):
        return False

    def _watch(self):
        while True:
            time.sleep(POLL_SECONDS)
            if self.told or not os.path.exists(self.path):
                continue
            try:
                if os.path.getmtime(self.path) < self.started - 1:
                    continue  # a stale file of an earlier run on the same master port
                with open(self.path, encoding="utf-8") as handle:
                    rank, line = handle.read().split("\n", 1)
            except (OSError, ValueError):
                continue  # not yet whole
            if int(rank) == self.rank:
                continue
            print(f"error: rank {rank} stopped the run: {line.strip().removeprefix('error: ')}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(1)  # the main thread may wait in a collective that will never end

    def tell(self, line):
        """Write `line` (this rank's stop line) for the other ranks, then give them `GRACE_SECONDS` to go."""
        if not self.path or self.told:
            return
        self.told = True
        partial = f"{self.path}.{self.rank}.partial"
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(f"{self.rank}\n{line}\n")
            os.replace(partial, self.path)
        except OSError:
            return  # an unwritable output folder: the other ranks end as they would have
        time.sleep(GRACE_SECONDS)
