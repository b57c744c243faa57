"""One training run of the tools reads its config file once, parses its R-Drop settings once, makes one k-pass
runner, and checks the very model the engine trains (no second model is built for the check, nor to learn
what a key does)."""

import json
import os
import subprocess
import sys

import pytest

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, tool_environment

COUNTING_RUN = """
import builtins, io, json, os, sys
from paddleclas_rdrop.adapter import models, runner, settings, train_hook
calls = {"parses": 0, "checked": [], "trained": [], "config_reads": 0, "runners": 0, "backbone_builds": 0}
runner_init, build_backbone = runner.RDrop.__init__, models.build_backbone
def counted_init(self, *args, **kwargs):
    calls["runners"] += 1
    return runner_init(self, *args, **kwargs)
def counted_build(*args, **kwargs):
    calls["backbone_builds"] += 1
    return build_backbone(*args, **kwargs)
runner.RDrop.__init__, models.build_backbone = counted_init, counted_build
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
def counted_check(model, *args):
    calls["checked"].append(id(model))
    return check(model, *args)
def counted_prepare(engine, *args):
    calls["trained"].append(id(getattr(engine.model, "_layers", engine.model)))
    return prepare(engine, *args)
train_hook.check_model, train_hook.prepare_engine = counted_check, counted_prepare
from paddleclas_rdrop.tools.cli import run
run("train", sys.argv[1:])
print("calls:", json.dumps(calls))
"""


# PP-LCNet has a rate argument of its own (dropout_prob), which the KL-share warning would offer
PPLCNET = ["Arch.name=PPLCNet_x0_25", "RDrop.head_layer=fc", "RDrop.drop_path=0"]


@pytest.mark.parametrize(
    "engine, model",
    [
        pytest.param("standalone", TINY, id="standalone"),
        pytest.param("paddleclas", TINY, id="paddleclas", marks=engine_param("paddleclas").marks),
        pytest.param("standalone", PPLCNET, id="standalone-pplcnet"),
    ],
)
def test_a_training_run_reads_its_config_and_parses_its_settings_once_and_checks_the_model_it_trains(
    engine, model, workdir
):
    args = ["-c", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")]
    for override in overrides(workdir, f"counted_{engine}_{model[0].split('=')[1]}") + model:
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
    assert calls["runners"] == 1 and calls["backbone_builds"] == 0, calls  # no second runner, no throwaway model
    assert len(calls["checked"]) == 1 and calls["trained"] and set(calls["trained"]) == set(calls["checked"]), calls
