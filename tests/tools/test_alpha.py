"""alpha by its name: `RDrop.alpha` is the one place to set it, and the `RDropLoss` entry's weight (PaddleClas's
slot) follows it, on both engines; what it gets wrong is one line."""

import pytest

from paddleclas_rdrop.adapter.settings import RDropSettings, sync_alpha
from paddleclas_rdrop.core.errors import ConfigError

from engine_runs import ENGINES, TINY, engine_param, overrides, refusals, run_tool, step_losses


def recipe(**rdrop):
    return {
        "Global": {"train_mode": "rdrop"},
        "RDrop": rdrop,
        "Loss": {"Train": [{"CELoss": {"weight": 1.0}}, {"RDropLoss": {"weight": 3.0, "reduction": "batchmean"}}]},
    }


def test_rdrop_alpha_is_alpha_and_sets_the_entrys_weight():
    config = recipe(alpha=1)
    settings = RDropSettings.from_config(config)
    assert settings.alpha == 1.0 and settings.alpha_from_section
    sync_alpha(config, settings)
    assert config["Loss"]["Train"][1]["RDropLoss"] == {"weight": 1, "reduction": "batchmean"}
    plain = RDropSettings.from_config(recipe())
    assert plain.alpha == 3.0 and not plain.alpha_from_section
    without_weight = recipe(alpha=2)
    del without_weight["Loss"]["Train"][1]["RDropLoss"]["weight"]
    assert RDropSettings.from_config(without_weight).alpha == 2.0


@pytest.mark.parametrize("value", [-1, "one", True])
def test_a_wrong_alpha_is_one_line(value):
    with pytest.raises(
        ConfigError, match=rf"RDrop.alpha is the weight of the KL term and must be a finite number >= 0.*{value!r}"
    ):
        RDropSettings.from_config(recipe(alpha=value))


def test_alpha_without_r_drop_is_refused():
    config = recipe(alpha=1)
    config["Global"].pop("train_mode")
    config["Loss"]["Train"].pop(1)
    with pytest.raises(ConfigError, match="RDrop.alpha is set but Global.train_mode is None"):
        RDropSettings.from_config(config)


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_rdrop_alpha_trains_as_the_entrys_weight_does(engine, workdir):
    losses = []
    for name, key in (("by_name", "RDrop.alpha=1.5"), ("by_weight", "Loss.Train.1.RDropLoss.weight=1.5")):
        keys = overrides(workdir, f"alpha_{name}_{engine}") + TINY + [key, "Global.seed=3", "Global.print_batch_step=1"]
        log = run_tool("train.py", "rdrop_res2net.yaml", keys, cwd=workdir, env=ENGINES[engine])
        losses.append(step_losses(log.stdout + log.stderr, "RDropLoss"))
    assert losses[0] and losses[0] == losses[1]
    (outcome,) = refusals(
        "train",
        "rdrop_res2net.yaml",
        [overrides(workdir, "unused") + TINY + ["RDrop.alpha=-2"]],
        cwd=workdir,
        env=ENGINES[engine],
    )
    assert outcome.startswith("error: RDrop.alpha is the weight of the KL term and must be a finite number >= 0")
