"""Stochastic depth (drop path) on the residual branches of PaddleClas's ResNet-family, PP-HGNet,
PP-HGNetV2 and MobileNetV3 backbones.

Where timm puts it (`timm/models/resnet.py`, `drop_path_rate`): the output of a block's residual
branch, after its last BN (or its SE / ESE layer), is zeroed per sample with probability r and the
kept samples are scaled by 1/(1 - r), before the shortcut is added. Rates follow the linear rule
of Huang et al. (2016): 0 at the first block it applies to, r at the last. It is added with a
forward post-hook on the branch's last layer, in training only: no parameter is renamed, the
state_dict keys stay stock and an eval-mode forward is the stock model's. Blocks without a
shortcut (a stage's first, downsampling block) get none: dropping their branch would drop the
whole signal.
"""

import re
from typing import Any, List, Optional, Sequence, Tuple

import paddle

from .errors import ConfigError, UnknownBlocks, check_rate
from .models import unwrap

STAGES = (1, 2, 3, 4)  # residual stages at 1/4, 1/8, 1/16, 1/32 of the input side (MobileNetV3: blocks at 1/2 in 1)

SUPPORTED_FAMILIES = (
    "ResNet / ResNet_vd (e.g. ResNet50_vd)",
    "SE_ResNet_vd (e.g. SE_ResNet50_vd, SE_ResNet18_vd)",
    "Res2Net_vd (e.g. Res2Net50_vd_26w_4s)",
    "SE_ResNeXt_vd (e.g. SE_ResNeXt50_vd_32x4d)",
    "PP-HGNet (e.g. PPHGNet_small)",
    "PP-HGNetV2 (e.g. PPHGNetV2_B4)",
    "MobileNetV3 (e.g. MobileNetV3_large_x1_0)",
)
_STAGE_BLOCK = re.compile(r"bb_(\d+)_(\d+)$")  # SE_ResNet_vd, Res2Net_vd, SE_ResNeXt_vd: bb_<stage>_<i>
_HG_BRANCH_END = {"HG_Block": "att", "HGV2_Block": "aggregation_excitation_conv"}  # its ESE layer / last ConvBN


def check_drop_path(drop_path: Any) -> float:
    """`drop_path` as a float if it is a number in [0, 1); raises `ConfigError`."""
    return check_rate(drop_path, "RDrop.drop_path", "the stochastic depth rate of the last residual block", "0.05-0.2")


def check_drop_path_stages(stages: Any) -> List[int]:
    """`stages` sorted without repeats if it is a non-empty list of stages 1-4; raises `ConfigError`."""
    if (
        not isinstance(stages, (list, tuple))
        or not stages
        or any(isinstance(s, bool) or s not in STAGES for s in stages)
    ):
        raise ConfigError(
            f"RDrop.drop_path_stages must be a non-empty list of stages from {list(STAGES)} "
            f"(4 is the last), got {stages!r}"
        )
    return sorted(set(stages))


def residual_blocks(net: paddle.nn.Layer) -> Optional[List[Tuple[int, paddle.nn.Layer, paddle.nn.Layer]]]:
    """`[(stage, block, branch_end)]` of the blocks of `net` whose branch meets a shortcut, in forward
    order (stages 1-4; `branch_end` is the layer whose output is added to the shortcut); None if `net`
    is not a family drop path knows (`SUPPORTED_FAMILIES`)."""
    for blocks in (_resnet_blocks, _hgnet_blocks, _mobilenet_v3_blocks):
        found = blocks(net)
        if found is not None:
            return found
    return None


def _resnet_blocks(net):
    blocks = [
        (int(match.group(1)) + 1, layer) for name, layer in net.named_children() if (match := _STAGE_BLOCK.match(name))
    ]
    depths = getattr(net, "block_depth", None)
    if not blocks and isinstance(getattr(net, "blocks", None), paddle.nn.Sequential) and depths:
        stages = [stage for stage, depth in enumerate(depths, 1) for _ in range(depth)]
        blocks = list(zip(stages, net.blocks))  # PaddleClas's legendary ResNet: blocks in one Sequential
    ends = [branch_end(block) for _, block in blocks]
    if not blocks or None in ends:
        return None
    return [(stage, block, end) for (stage, block), end in zip(blocks, ends)]


def branch_end(block: paddle.nn.Layer) -> Optional[paddle.nn.Layer]:
    """The last layer of a ResNet-family block's residual branch, whose output meets the shortcut: the SE
    layer if there is one, else the last ConvBN (conv2 in a bottleneck, conv1 in a basic block)."""
    children = dict(block.named_children())
    for name in ("scale", "conv2", "conv1"):
        if name in children:
            return children[name]
    return None


def _hgnet_blocks(net):
    """PP-HGNet (`HG_Block`, ends in its ESE layer `att`) and PP-HGNetV2 (`HGV2_Block`, ends in
    `aggregation_excitation_conv`): `net.stages[i].blocks`, the shortcut where `block.identity`."""
    if type(net).__name__ not in ("PPHGNet", "PPHGNetV2"):
        return None
    found = []
    for stage, layer in enumerate(net.stages, 1):
        for block in layer.blocks:
            end = getattr(block, _HG_BRANCH_END.get(type(block).__name__, ""), None)
            if end is None:
                return None
            if block.identity:
                found.append((stage, block, end))
    return found


def _mobilenet_v3_blocks(net):
    """MobileNetV3 (`ResidualUnit` in `net.blocks`, the shortcut where `if_shortcut`, the branch ending in
    `linear_conv`); a unit's stage counts the stride-2 units up to it (the stem's /2 block is in stage 1)."""
    if type(net).__name__ != "MobileNetV3":
        return None
    found, stage = [], 0
    for unit in net.blocks:
        stride = unit.bottleneck_conv.conv._stride
        stage += max(stride) > 1 if isinstance(stride, (list, tuple)) else stride > 1
        if unit.if_shortcut:
            found.append((max(stage, 1), unit, unit.linear_conv))
    return found


def linear_rates(count: int, rate: float) -> List[float]:
    """Huang et al.'s linear rule over `count` blocks: 0 at the first, `rate` at the last."""
    if count == 1:
        return [rate]
    return [rate * index / (count - 1) for index in range(count)]


class DropPath:
    """Drop path on the residual blocks of `stages` of `net` (Huang et al., "Deep Networks with
    Stochastic Depth", ECCV 2016; placed as in timm's `timm/models/resnet.py`).

    Args:
        net: a backbone of PaddleClas of one of `SUPPORTED_FAMILIES`, not wrapped.
        rate: in [0, 1), the rate of the last chosen block; the linear rule gives the others
            (`linear_rates`; 0 at the first chosen block).
        stages: residual stages from 1 to 4.

    A kept sample's branch output is scaled by 1 / (1 - its rate), per sample (a mask ``[B, 1, 1, 1]``
    per block and call). `rates` and `blocks` list the chosen blocks; `first_block` is the first that
    draws a mask (None if none does). `remove()` detaches the hooks.

    Raises:
        ConfigError: a bad rate or stage, stages without a residual block, or (`UnknownBlocks`) a model
            whose residual blocks it does not know.
    """

    def __init__(self, net: paddle.nn.Layer, rate: float, stages: Sequence[int] = STAGES) -> None:
        rate = check_drop_path(rate)
        blocks = residual_blocks(net)
        if not blocks:
            raise UnknownBlocks(net, SUPPORTED_FAMILIES)
        stages = check_drop_path_stages(stages)
        chosen = [(block, end) for stage, block, end in blocks if stage in stages]
        if not chosen:
            having = sorted({stage for stage, _, _ in blocks})
            raise ConfigError(
                f"RDrop.drop_path_stages: {type(net).__name__} has no block with a shortcut in stages {stages}; "
                f"its residual blocks are in stages {having}: set RDrop.drop_path_stages to some of them"
            )
        self.rates = linear_rates(len(chosen), rate)
        self.blocks = [block for block, _ in chosen]
        self.first_block = next((block for (block, _), r in zip(chosen, self.rates) if r > 0), None)
        self._hooks = [end.register_forward_post_hook(_dropper(r)) for (_, end), r in zip(chosen, self.rates) if r > 0]

    def remove(self) -> None:
        """Detach the hooks: the network is the stock one again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def _dropper(rate):
    keep = 1.0 - rate

    def drop_branch(layer, inputs, output):
        if not layer.training:
            return None
        shape = [output.shape[0]] + [1] * (output.ndim - 1)
        mask = (paddle.rand(shape, dtype="float32") < keep).astype(output.dtype) / keep
        return output * mask

    return drop_branch


def add_drop_path(model: paddle.nn.Layer, drop_path: float, stages: Sequence[int] = STAGES) -> DropPath:
    """Per-sample stochastic depth (Huang et al., ECCV 2016; placed as timm's ResNets place it) on the
    residual branches of `stages` (1-4) of a ResNet-family, PP-HGNet(V2) or MobileNetV3 `model` (or its
    `paddle.DataParallel`), in training only, rate rising linearly to `drop_path` at the last chosen block.
    Forward hooks: no parameter is renamed.

    Returns the `DropPath` (``remove()``); raises `ConfigError` for a bad rate or stage, stages without
    a residual block, or (`UnknownBlocks`) a model whose residual blocks it does not know.
    """
    return DropPath(unwrap(model), drop_path, stages)
