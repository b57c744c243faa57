"""One training run of the tools reads its config file once, parses its R-Drop settings once, and checks the
very model the engine trains (no second model is built for the check)."""

import json
import os
import subprocess
import sys

import pytest

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, tool_environment

COUNTING_RUN = """
import builtins, io, json, os, sys
from paddleclas_rdrop.adapter import settings, train_hook
calls = {"parses": 0, "checked": [], "trained": [], "config_reads": 0}
config_file = os.path.realpath(sys.argv[sys.argv.index("-c", 1) + 1])
def counting(opener):
    def counted_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(file) == config_file:
            calls["config_reads"] += 1
        return opener(file, *args, **kwargs)
    return counted_open
builtins.open, io.open = counting(builtins.open), counting(io.open)
parse = settings.RDropSettings.from_config.__func__
def counted_parse(cls, config):
    calls["parses"] += 1
    return parse(cls, config)
settings.RDropSettings.from_config = classmethod(counted_parse)
check, prepare = train_hook.check_model, train_hook.prepare_engine
def counted_check(model, run_settings):
    calls["checked"].append(id(model))
    return check(model, run_settings)
def counted_prepare(engine, run_settings=None):
    calls["trained"].append(id(getattr(engine.model, "_layers", engine.model)))
    return prepare(engine, run_settings)
train_hook.check_model, train_hook.prepare_engine = counted_check, counted_prepare
from paddleclas_rdrop.tools.cli import run
run("train", sys.argv[1:])
print("calls:", json.dumps(calls))
"""


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_training_run_reads_its_config_and_parses_its_settings_once_and_checks_the_model_it_trains(engine, workdir):
    args = ["-c", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")]
    for override in overrides(workdir, f"counted_{engine}") + TINY:
        args += ["-o", override]
    result = subprocess.run(
        [sys.executable, "-c", COUNTING_RUN, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=tool_environment(ENGINES[engine]),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    calls = json.loads(result.stdout.split("calls: ", 1)[1].splitlines()[0])
    assert calls["parses"] == 1, calls
    assert calls["config_reads"] == 1, calls
    assert len(calls["checked"]) == 1 and calls["trained"] and set(calls["trained"]) == set(calls["checked"]), calls
