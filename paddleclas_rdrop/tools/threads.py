"""CPU threads for the tools, set before paddle is imported: `import paddle` sets
OMP_NUM_THREADS=1 when it is unset, which leaves all cores but one idle on a CPU run."""

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores():
    """Unless the user set OMP_NUM_THREADS, give each process of this machine an equal share of its
    cores (`paddle.distributed.launch` says how many processes run here in PADDLE_LOCAL_SIZE).
    Returns (threads, whether the user chose them).

    Process-wide: it sets OMP_NUM_THREADS and MKL_NUM_THREADS in `os.environ`, which the math libraries
    read once, when paddle is imported; so it is called by a tool's `main` before anything imports
    paddle, and it is not undone (the variables are inherited by the tool's own child processes, the
    data loader's workers, which is what they need). Set OMP_NUM_THREADS to choose instead."""
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"]), True
    processes = int(os.environ.get("PADDLE_LOCAL_SIZE") or 1)
    threads = max(1, (os.cpu_count() or 1) // processes)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    return threads, False
