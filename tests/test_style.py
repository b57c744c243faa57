"""The code passes the project's linter and formatter (ruff, configured in ruff.toml), and the type hints of the
core and the adapter pass mypy."""

import subprocess
import sys

import pytest

from engine_runs import PROJECT


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_passes(command):
    result = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_mypy_passes_on_the_core_and_the_adapter():
    command = ["-m", "mypy", "--ignore-missing-imports", "paddleclas_rdrop/core", "paddleclas_rdrop/adapter"]
    result = subprocess.run([sys.executable, *command], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
