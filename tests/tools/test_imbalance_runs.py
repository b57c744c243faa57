"""`ClassWeightedCELoss` and `ClassBalancedSampler` through the tools, on both engines: an R-Drop run trains with
both, and a bad value is one line that writes nothing."""

import math

import pytest

from engine_runs import (
    ENGINES,
    TINY,
    assert_case_refused,
    case_refusals,
    engine_param,
    overrides,
    run_tool,
    step_losses,
)

WEIGHTED = "Loss.Train.0={'ClassWeightedCELoss':{'weight':1.0,'epsilon':0.1,'class_weights':%s}}"
BALANCED = [WEIGHTED % "'balanced'", "DataLoader.Train.sampler.name=ClassBalancedSampler"]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_rdrop_run_trains_with_the_weighted_loss_and_the_balanced_sampler(engine, workdir):
    extra = overrides(workdir, engine) + TINY + BALANCED + ["Global.print_batch_step=1", "Global.seed=3"]
    result = run_tool("train.py", "rdrop_se_resnet.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    weighted, kl = step_losses(log, "ClassWeightedCELoss"), step_losses(log, "RDropLoss")
    assert len(weighted) == 3 and all(math.isfinite(value) and value > 0 for value in weighted + kl), log[-2000:]
    assert "name : ClassBalancedSampler" in log and "seed : 3" in log.split("name : ClassBalancedSampler", 1)[1]
    assert (workdir / engine / "latest.pdparams").exists()


BAD_VALUES = [
    ([WEIGHTED % "[1.0,2.0]"], "class_weights has 2 weights but the model has 10 classes (Arch.class_num)"),
    (
        [WEIGHTED % "[-1.0,1,1,1,1,1,1,1,1,1]"],
        "Loss.Train.0.ClassWeightedCELoss.class_weights must be balanced or a list of one number >= 0 per class, "
        "not all 0, got [-1.0, 1, 1, 1, 1, 1, 1, 1, 1, 1]: set -o Loss.Train.0.ClassWeightedCELoss.class_weights=",
    ),
    ([WEIGHTED % "'inverse'"], "class_weights must be balanced or a list of one number >= 0 per class"),
    (
        ["Loss.Train.0={'ClassWeightedCELoss':{'weight':1.0,'class_weight':'balanced'}}"],
        "Loss.Train.0.ClassWeightedCELoss.class_weight is not a key of ClassWeightedCELoss (did you mean "
        "`class_weights`?)",
    ),
    (BALANCED + ["Arch.class_num=11"], "has none of class 10 (of 11, Arch.class_num)"),
    (BALANCED + ["Global.use_multilabel=True"], "but Global.use_multilabel is True"),
    (["DataLoader.Train.sampler.name=ClassBalanceSampler"], "DataLoader.Train.sampler.name must be one of"),
    (
        ["DataLoader.Eval.sampler.name=ClassBalancedSampler"],
        "DataLoader.Eval.sampler.name: ClassBalancedSampler draws training batches with replacement",
    ),
    (["DataLoader.Train.sampler.seed=1"], "DataLoader.Train.sampler.seed: only ClassBalancedSampler reads it"),
]


@pytest.fixture(scope="module")
def bad_value_errors(workdir):
    """Per engine, the error of each of BAD_VALUES (case i writes, if anything, to `bad_<engine><i>`)."""
    return case_refusals("rdrop_se_resnet.yaml", BAD_VALUES, lambda name: overrides(workdir, name) + TINY, workdir)


@pytest.mark.parametrize("extra, message", BAD_VALUES)
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_bad_value_is_one_line_and_writes_nothing(engine, extra, message, workdir, bad_value_errors):
    assert_case_refused(bad_value_errors, engine, BAD_VALUES, (extra, message), workdir)
