"""`builds_with`: the identical-passes error offers only the `Arch.` keys the model can be built with."""

import paddle
import pytest

from paddleclas_rdrop import RDrop, RDropConfigError
from paddleclas_rdrop.adapter.train_hook import builds_with

from models import build


def identical_passes_error(name, **runner):
    net = build(name)
    net.train()
    with pytest.raises(RDropConfigError) as error:
        RDrop(net, **runner)(paddle.randn([2, 3, 32, 32]))
    return str(error.value)


def test_a_rate_argument_its_wrapper_already_passes_is_not_offered():
    # FasterNet_T0 passes its own drop_path_rate: Arch.drop_path_rate would be given twice
    assert builds_with({"name": "FasterNet_T0", "class_num": 10})("drop_path_rate", 0.1) is False
    assert "Set Arch.drop_path_rate" in identical_passes_error("FasterNet_T0")
    message = identical_passes_error("FasterNet_T0", builds_with=builds_with({"name": "FasterNet_T0", "class_num": 10}))
    assert "Arch.drop_path_rate" not in message and "FasterNet has no active dropout. Set RDrop.head_dropout" in message


def test_a_rate_argument_the_wrapper_passes_on_is_offered():
    assert builds_with({"name": "ConvNeXt_tiny", "class_num": 10})("drop_path_rate", 0.1) is True
    assert builds_with({"name": "MutualModel"})("drop_rate", 0.1) is True  # not a backbone: nothing to check
