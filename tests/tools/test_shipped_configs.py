"""Every shipped config reads, passes the R-Drop contract and fits its model, on the cheap path."""

import glob
import os

import paddle
import pytest

from engine_runs import PROJECT

RUNNER_ONLY = ("passes", "strategy", "augment_per_pass")  # RDrop keys of the k-pass runner, not of its layers
CONFIG_PATHS = sorted(glob.glob(os.path.join(PROJECT, "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIG_PATHS, ids=os.path.basename)
def test_a_shipped_config_fits_its_model_and_takes_the_cheap_path(path):
    from paddleclas.ppcls.utils.config import get_config

    from paddleclas_rdrop.adapter.mutual import check_mutual_contract
    from paddleclas_rdrop.adapter.settings import RDropSettings
    from paddleclas_rdrop.adapter.train_hook import prepare_model
    from paddleclas_rdrop.core.drop_path import residual_blocks
    from paddleclas_rdrop.core.models import stochastic_layers
    from paddleclas_rdrop.tools.standalone.engine import build_standalone_model

    config = get_config(path, show=False)
    check_mutual_contract(config)
    settings = RDropSettings.from_config(config)
    if config["Arch"]["name"] == "MutualModel":
        return  # two networks taught by one KL: no RDrop section (tests/test_mutual.py)
    config["Arch"]["pretrained"] = False  # the fine-tuning recipes' weights are a download
    with paddle.utils.unique_name.guard():
        model = build_standalone_model(config, "train")
    own = stochastic_layers(model)  # the model's own, at the rates its Arch section gives
    rdrop = prepare_model(model, settings)
    layers = config.get("RDrop", {})
    adds = layers.get("head_dropout", 0) > 0 or layers.get("drop_path", 0) > 0
    assert adds != bool(own), "a recipe's randomness comes from its RDrop layers or from the model's own"
    if config["Global"].get("train_mode") == "rdrop":
        assert rdrop.strategy == ("concat" if own else "shared_trunk")
        if layers.get("drop_path"):  # the shared prefix ends inside the first drop-path stage
            stage = min(layers["drop_path_stages"])
            assert any(rdrop.shared_until is block for s, block, _ in residual_blocks(model) if s == stage)
    else:
        assert rdrop is None


@pytest.mark.parametrize("path", [p for p in CONFIG_PATHS if "rdrop_" in os.path.basename(p)], ids=os.path.basename)
def test_a_recipe_and_its_baseline_twin_differ_by_r_drop_only(path):
    from paddleclas.ppcls.utils.config import get_config

    recipe = get_config(path, show=False)
    twin = get_config(path.replace("rdrop_", "baseline_"), show=False)
    assert recipe["Global"].pop("train_mode") == "rdrop" and "train_mode" not in twin["Global"]
    recipe_layers = {key: value for key, value in recipe.pop("RDrop").items() if key not in RUNNER_ONLY}
    assert recipe_layers == twin.pop("RDrop", {})
    assert [entry for entry in recipe["Loss"]["Train"] if "RDropLoss" not in entry] == twin["Loss"]["Train"]
    recipe["Loss"].pop("Train"), twin["Loss"].pop("Train")
    assert recipe == twin
