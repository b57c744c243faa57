"""A real PaddleX 3.x training run of one CPU epoch with R-Drop (benchmarks/paddlex_rdrop.py): PaddleClas's log
under PaddleX has RDropLoss on every step. Needs PaddleX installed, PADDLEX_ROOT (its source, with main.py, and
its PaddleClas repo installed) and PADDLECLAS_ROOT; skipped otherwise, as in CI."""

import importlib.util
import os
import subprocess
import sys

import pytest

from engine_runs import PROJECT, tool_environment


def skip_reason():
    """Why this machine cannot run PaddleX's training, or None."""
    if importlib.util.find_spec("paddlex") is None:
        return "paddlex is not installed for this interpreter"
    if not os.environ.get("PADDLEX_ROOT"):
        return "PADDLEX_ROOT is unset: PaddleX's source folder, with main.py"
    if not os.environ.get("PADDLECLAS_ROOT"):
        return "PADDLECLAS_ROOT is unset: the PaddleClas source tree that PaddleX's PaddleClas repo is made of"
    return None


SKIP = skip_reason()


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
def test_paddlex_trains_one_epoch_with_rdrop_loss_on_every_step(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(PROJECT, "benchmarks", "paddlex_rdrop.py"),
            "--paddlex-root",
            os.environ["PADDLEX_ROOT"],
            "--work",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    steps = [line for line in lines if line.startswith("step lines: ")]
    assert steps and steps[0].endswith("RDropLoss on every one"), result.stdout
    assert int(steps[0].split()[2].rstrip(",")) > 0
    assert any("[R-Drop] alpha x KL is" in line for line in lines), result.stdout
    assert "RDropLoss" in (tmp_path / "output" / "train.log").read_text()
