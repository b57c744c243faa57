"""`-o` keys checked against the YAML before PaddleClas reads them: a typo gets the key it is close to,
a malformed override is one line, and the keys PaddleClas reads without a YAML entry pass."""

import os

import pytest

from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.run_config import read_checked

from engine_runs import PROJECT

RECIPE = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")
MUTUAL = os.path.join(PROJECT, "configs", "mutual_res2net_se_resnet.yaml")


@pytest.mark.parametrize(
    "config, override, message",
    [
        (RECIPE, "Global.epoch=3", "has no Global.epoch (did you mean `epochs`?)"),
        (RECIPE, "DataLoader.Train.sampler.batch_szie=8", "(did you mean `batch_size`?)"),
        (RECIPE, "Global.epochs=3=4", "give one key=value"),
        (RECIPE, "Global.epochs", "give one key=value"),
        (RECIPE, "Loss.Train.5.CELoss.weight=1", "Loss.Train is a list of 2 in"),
        (MUTUAL, "Optimizer.lr.learning_rate=0.1", "Optimizer is a list of 2 in"),
        (RECIPE, "RDorp=2", "has no RDorp (did you mean `RDrop`?)"),  # a top-level key
    ],
)
def test_a_typo_or_a_malformed_override_is_one_error(config, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        read_checked(config, [override])


@pytest.mark.parametrize(
    "override",
    [
        "Global.epochs=3",
        "Global.seed=0",  # read by PaddleClas, in no recipe
        "Global.keep_checkpoint_max=2",
        "Optimizer.clip_norm=1.0",
        "Optimizer.lr.warmup_epoch=2",
        "DataLoader.Train.loader.num_workers=0",
        "Arch.class_expand=1280",  # a backbone argument: Arch takes any name its class does
        "Loss.Train.1.RDropLoss.wieght=1.0",  # the R-Drop settings check names this one
        "NewSection.key=1",
        "NewTopLevel=1",
    ],
)
def test_keys_paddleclas_reads_without_a_yaml_entry_pass(override):
    read_checked(RECIPE, [override])
