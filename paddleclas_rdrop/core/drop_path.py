"""Stochastic depth (drop path) on the residual branches of PaddleClas's ResNet-family backbones.

Where timm puts it (`timm/models/resnet.py`, `drop_path_rate`): the output of a block's residual
branch, after its last BN (or its SE layer), is zeroed per sample with probability r and the
kept samples are scaled by 1/(1 - r), before the shortcut is added. Rates follow the linear rule
of Huang et al. (2016): 0 at the first block it applies to, r at the last. It is added with a
forward post-hook on the branch's last layer, in training only: no parameter is renamed, the
state_dict keys stay stock and an eval-mode forward is the stock model's.
"""

import re

import paddle

from .errors import ConfigError, check_rate

STAGES = (1, 2, 3, 4)  # the residual stages of a ResNet-family backbone

SUPPORTED_FAMILIES = (
    "ResNet / ResNet_vd (e.g. ResNet50_vd)",
    "SE_ResNet_vd (e.g. SE_ResNet50_vd, SE_ResNet18_vd)",
    "Res2Net_vd (e.g. Res2Net50_vd_26w_4s)",
    "SE_ResNeXt_vd (e.g. SE_ResNeXt50_vd_32x4d)",
)
_STAGE_BLOCK = re.compile(r"bb_(\d+)_(\d+)$")  # SE_ResNet_vd, Res2Net_vd, SE_ResNeXt_vd: bb_<stage>_<i>


def check_drop_path(drop_path):
    """`drop_path` as a float if it is a number in [0, 1); raises `ConfigError`."""
    return check_rate(drop_path, "RDrop.drop_path", "the stochastic depth rate of the last residual block", "0.05-0.2")


def check_drop_path_stages(stages):
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


def residual_blocks(net):
    """`[(stage, block)]` in forward order (stages 1-4); None if `net` is not a supported family."""
    blocks = [
        (int(match.group(1)) + 1, layer) for name, layer in net.named_children() if (match := _STAGE_BLOCK.match(name))
    ]
    depths = getattr(net, "block_depth", None)
    if not blocks and isinstance(getattr(net, "blocks", None), paddle.nn.Sequential) and depths:
        stages = [stage for stage, depth in enumerate(depths, 1) for _ in range(depth)]
        blocks = list(zip(stages, net.blocks))  # PaddleClas's legendary ResNet: blocks in one Sequential
    if not blocks or any(branch_end(block) is None for _, block in blocks):
        return None
    return blocks


def branch_end(block):
    """The last layer of a block's residual branch, whose output meets the shortcut: the SE layer
    if there is one, else the last ConvBN (conv2 in a bottleneck, conv1 in a basic block)."""
    children = dict(block.named_children())
    for name in ("scale", "conv2", "conv1"):
        if name in children:
            return children[name]
    return None


def linear_rates(count, rate):
    """Huang et al.'s linear rule over `count` blocks: 0 at the first, `rate` at the last."""
    if count == 1:
        return [rate]
    return [rate * index / (count - 1) for index in range(count)]


class DropPath:
    """Drop path on the residual blocks of `stages` of `net` (Huang et al., "Deep Networks with
    Stochastic Depth", ECCV 2016; placed as in timm's `timm/models/resnet.py`).

    Args:
        net: a ResNet-family backbone of PaddleClas (see `SUPPORTED_FAMILIES`), not wrapped.
        rate: in [0, 1), the rate of the last chosen block; the linear rule gives the others
            (`linear_rates`; 0 at the first chosen block).
        stages: residual stages from 1 to 4.

    A kept sample's branch output is scaled by 1 / (1 - its rate), per sample (a mask ``[B, 1, 1, 1]``
    per block and call). `rates` and `blocks` list the chosen blocks; `first_block` is the first that
    draws a mask (None if none does). `remove()` detaches the hooks.

    Raises:
        ConfigError: a bad rate or stage, or a model whose residual blocks it does not know.
    """

    def __init__(self, net, rate, stages=STAGES):
        rate = check_drop_path(rate)
        stages = check_drop_path_stages(stages)
        blocks = residual_blocks(net)
        if blocks is None:
            raise ConfigError(
                f"RDrop.drop_path: {type(net).__name__} is not a backbone drop path knows where to put; "
                f"it supports the residual blocks of {'; '.join(SUPPORTED_FAMILIES)}. "
                f"Set RDrop.drop_path: 0 and use RDrop.head_dropout for this model"
            )
        chosen = [block for stage, block in blocks if stage in stages]
        self.rates = linear_rates(len(chosen), rate)
        self.blocks = chosen
        self.first_block = next((b for b, r in zip(chosen, self.rates) if r > 0), None)
        self._hooks = [
            branch_end(block).register_forward_post_hook(_dropper(r)) for block, r in zip(chosen, self.rates) if r > 0
        ]

    def remove(self):
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
