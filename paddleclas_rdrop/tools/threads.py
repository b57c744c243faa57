"""CPU threads for the tools, set before paddle is imported: `import paddle` sets
OMP_NUM_THREADS=1 when it is unset, which leaves all cores but one idle on a CPU run."""

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores():
    """Unless the user set OMP_NUM_THREADS, give each process of this machine an equal share of its
    cores (`paddle.distributed.launch` says how many processes run here in PADDLE_LOCAL_SIZE).
    Returns (threads, whether the user chose them)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"]), True
    processes = int(os.environ.get("PADDLE_LOCAL_SIZE") or 1)
    threads = max(1, (os.cpu_count() or 1) // processes)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    return threads, False
