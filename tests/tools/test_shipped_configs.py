"""Every shipped config reads, passes the R-Drop contract and fits its model, on the cheap path."""

import glob
import os

import paddle
import pytest

from engine_runs import PROJECT

CONFIG_PATHS = sorted(glob.glob(os.path.join(PROJECT, "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIG_PATHS, ids=os.path.basename)
def test_a_shipped_config_fits_its_model_and_takes_the_cheap_path(path):
    from paddleclas.ppcls.utils.config import get_config

    from paddleclas_rdrop.adapter.mutual import check_mutual_contract
    from paddleclas_rdrop.adapter.settings import RDropSettings
    from paddleclas_rdrop.adapter.train_hook import prepare_model
    from paddleclas_rdrop.core.drop_path import residual_blocks
    from paddleclas_rdrop.tools.standalone.engine import build_standalone_model

    config = get_config(path, show=False)
    check_mutual_contract(config)
    settings = RDropSettings.from_config(config)
    if config["Arch"]["name"] == "MutualModel":
        return  # two networks taught by one KL: no RDrop section (tests/test_mutual.py)
    with paddle.utils.unique_name.guard():
        model = build_standalone_model(config, "train")
    rdrop = prepare_model(model, settings)
    settings = config["RDrop"]
    if config["Global"].get("train_mode") == "rdrop":
        assert rdrop.strategy == "shared_trunk"
        if settings.get("drop_path"):  # the shared prefix ends inside the first drop-path stage
            stage = min(settings["drop_path_stages"])
            assert any(rdrop.shared_until is block for s, block, _ in residual_blocks(model) if s == stage)
    else:
        assert rdrop is None
    assert settings["head_dropout"] > 0 and settings.get("drop_path", 0) > 0
