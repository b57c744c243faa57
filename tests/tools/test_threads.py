"""The tools' CPU threads: the machine's cores shared by its processes, unless the user chose."""

import os
import subprocess
import sys

from paddleclas_rdrop.tools.threads import share_cores


def test_the_cores_are_shared_unless_the_user_set_omp_num_threads(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PADDLE_LOCAL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert share_cores() == (8, False) and os.environ["OMP_NUM_THREADS"] == "8"
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS")
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "3")  # paddle.distributed.launch, 3 processes here
    assert share_cores() == (2, False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert share_cores() == (1, True) and os.environ["OMP_NUM_THREADS"] == "1"


def test_a_tool_process_runs_paddle_with_its_share():
    """A tool's `main` chooses the threads before paddle is imported; importing the tools does nothing."""
    code = (
        "import os, sys; import paddleclas_rdrop.tools.cli as cli; "
        "assert 'paddle' not in sys.modules and 'OMP_NUM_THREADS' not in os.environ; "
        "threads, _ = cli.share_cores(); import paddle; print(threads, os.environ['OMP_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    threads = str(os.cpu_count())
    assert out.stdout.split()[-2:] == [threads, threads]
