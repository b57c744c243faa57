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


def machine():
    """One line describing the machine, for the reports."""
    import paddle

    cpu = "unknown CPU"
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"paddlepaddle {paddle.__version__}, threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
    )


def publish(lines, path):
    """Write the report `lines` to `path` (markdown) and print them."""
    text = "\n".join(lines) + "\n"
    with open(path, "w") as handle:
        handle.write(text)
    print(text)
