"""`RDrop.drop_path` through the tools, on both engines: R-Drop and its baseline twin train with it, and a
bad value is one line."""

import pytest

from engine_runs import ENGINES, assert_refused, engine_param, overrides, refusals_by_engine, run_tool, step_losses


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_both_engines_train_with_drop_path_and_log_the_kl_share(engine, workdir):
    # the config's drop_path_stages [4] are one SE_ResNet18_vd block with a shortcut, at rate r: at r = 0.1
    # a step of 16 images draws no drop in either pass with probability 0.81 ** 16 = 3 % (a logged KL of
    # 0); at r = 0.5, 0.25 ** 16 < 1e-9
    extra = overrides(workdir, engine) + [
        "RDrop.drop_path=0.5",
        "RDrop.head_dropout=0.0",
        "Loss.Train.1.RDropLoss.weight=3.0",
    ]
    result = run_tool("train.py", "rdrop_se_resnet.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    kl = step_losses(log, "RDropLoss")
    assert kl and all(value > 0 for value in kl)
    assert "[Train][Epoch 1][R-Drop] alpha x KL is " in log
    assert (workdir / engine / "latest.pdparams").exists()


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_baseline_twin_trains_with_the_same_drop_path(engine, workdir):
    name = f"baseline_{engine}"
    extra = overrides(workdir, name) + ["RDrop.drop_path=0.1", "RDrop.drop_path_stages=[3,4]"]
    result = run_tool("train.py", "baseline_se_resnet.yaml", extra, cwd=workdir, env=ENGINES[engine])
    log = result.stdout + result.stderr
    assert step_losses(log, "CELoss") and "RDropLoss" not in log.split("[Train]", 1)[1]


BAD_DROP_PATHS = [
    (["RDrop.drop_path=-0.1"], "RDrop.drop_path must be a number in [0, 1)"),
    (["RDrop.drop_path=1"], "RDrop.drop_path must be a number in [0, 1)"),
    (["RDrop.drop_path=0.1", "RDrop.drop_path_stages=[0]"], "RDrop.drop_path_stages must be"),
    (["RDrop.drop_path=0.1", "RDrop.drop_path_stages=[5]"], "RDrop.drop_path_stages must be"),
    (["RDrop.drop_path=0.1", "Arch.name=PPLCNet_x0_25"], "RDrop.drop_path: PPLCNet is not a backbone drop path knows"),
    (
        ["RDrop.drop_path=0.1", "Arch.name=PPHGNet_tiny", "RDrop.drop_path_stages=[4]"],
        "RDrop.drop_path_stages: PPHGNet has no block with a shortcut in stages [4]; its residual blocks are in "
        "stages [3]",
    ),
]


@pytest.fixture(scope="module")
def bad_drop_path_errors(workdir):
    """Per engine, the error of each of BAD_DROP_PATHS (case i writes, if anything, to `bad_<engine><i>`)."""
    return refusals_by_engine(
        "rdrop_se_resnet.yaml",
        lambda engine: [
            overrides(workdir, f"bad_{engine}{index}") + extra for index, (extra, _) in enumerate(BAD_DROP_PATHS)
        ],
        workdir,
    )


@pytest.mark.parametrize("extra, message", BAD_DROP_PATHS)
@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_bad_drop_path_is_one_line_and_writes_nothing(engine, extra, message, workdir, bad_drop_path_errors):
    index = BAD_DROP_PATHS.index((extra, message))
    assert_refused(bad_drop_path_errors(engine)[index], message, workdir / f"bad_{engine}{index}")
