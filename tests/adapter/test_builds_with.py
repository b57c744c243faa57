"""`builds_with`: the identical-passes error offers only the `Arch.` keys the model can be built with."""

import paddle
import pytest

from paddleclas_rdrop.adapter.models import builds_with
from paddleclas_rdrop.adapter.settings import RDropSettings
from paddleclas_rdrop.adapter.train_hook import prepare_model
from paddleclas_rdrop.core.errors import ConfigError

from models import build

CONFIG = {
    "Global": {"train_mode": "rdrop"},
    "RDrop": {"passes": 2},
    "Loss": {"Train": [{"CELoss": {"weight": 1.0}}, {"RDropLoss": {"weight": 1.0}}]},
}


def test_a_rate_argument_its_wrapper_already_passes_is_not_offered():
    # FasterNet_T0 passes its own drop_path_rate: Arch.drop_path_rate would be given twice
    assert builds_with({"name": "FasterNet_T0", "class_num": 10})("drop_path_rate", 0.1) is False
    net = build("FasterNet_T0")
    rdrop = prepare_model(net, RDropSettings.from_config(CONFIG), {"name": "FasterNet_T0", "class_num": 10})
    net.train()
    with pytest.raises(ConfigError) as error:
        rdrop(paddle.randn([2, 3, 32, 32]))
    assert "Arch.drop_path_rate" not in str(error.value)
    assert "FasterNet has no active dropout. Set RDrop.head_dropout" in str(error.value)


def test_a_rate_argument_the_wrapper_passes_on_is_offered_whatever_build_model_takes_out():
    arch = {"name": "ConvNeXt_tiny", "class_num": 10, "use_sync_bn": True, "pretrained": False}
    assert builds_with(arch)("drop_path_rate", 0.1) is True
    assert builds_with({"name": "MutualModel"})("drop_rate", 0.1) is True  # not a backbone: nothing to check


def test_a_rate_argument_the_wrapper_drops_is_not_offered():
    # LeViT_128S's wrapper builds from its own table of settings and drops Arch.drop_path
    assert builds_with({"name": "LeViT_128S", "class_num": 10})("drop_path", 0.1) is False
