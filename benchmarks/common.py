"""Shared by the benchmarks: thread settings (before paddle is imported), models, output."""

import os
import platform
import subprocess


def set_threads(threads):
    """Pin the math libraries' threads; call before importing paddle."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def build(name, class_num=10, seed=0):
    import paddle
    from paddleclas.ppcls.arch import backbone

    paddle.seed(seed)
    with paddle.utils.unique_name.guard():
        return getattr(backbone, name)(class_num=class_num)


def machine(threads=None):
    """One line describing the machine, for the reports; `threads`: the words for the math threads (default:
    this process's OMP_NUM_THREADS)."""
    import paddle

    cpu = "unknown CPU"
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"paddlepaddle {paddle.__version__}, {threads or 'threads ' + os.environ.get('OMP_NUM_THREADS', 'default')}"
    )


def publish(lines, path):
    """Write the report `lines` to `path` (markdown) and print them."""
    text = "\n".join(lines) + "\n"
    with open(path, "w") as handle:
        handle.write(text)
    print(text)


def check_pretrained(path, results):
    """Record the SHA-256 of the pretrained weights `path` in `results`/pretrained.sha256, or exit where the
    recorded weights differ (a pretraining on another machine gives other floats: a study resumes on its own)."""
    import hashlib
    import sys

    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    kept = os.path.join(results, "pretrained.sha256")
    if os.path.exists(kept):
        with open(kept) as handle:
            if handle.read().strip() != digest:
                sys.exit(f"{path} is not the pretrained model of {results}: restore it or start anew")
    else:
        with open(kept, "w") as handle:
            handle.write(digest + "\n")
