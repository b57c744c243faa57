"""Building PaddleClas's backbones (the wheel's) in tests."""

import paddle
from paddleclas.ppcls.arch import backbone


def build(name, seed=0, class_num=10):
    """A fresh `backbone.<name>`, its weights drawn from `seed`, in its own name scope (the older
    backbones' parameter names are fixed, and Paddle refuses to create one twice)."""
    paddle.seed(seed)
    with paddle.utils.unique_name.guard():
        return getattr(backbone, name)(class_num=class_num)
