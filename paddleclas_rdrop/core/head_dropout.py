"""Head dropout: dropout on the input of a model's classifier, in training only (the one-pass baseline of
R-Drop: dropout before the classifier, as the R-Drop paper's models and timm's `drop_rate` place it).
A forward pre-hook, so no parameter is renamed and eval is stock."""

from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .errors import ConfigError, check_rate
from .models import unwrap

if TYPE_CHECKING:
    from paddle.nn.layer.layers import HookRemoveHelper


def check_head_dropout(head_dropout: Any) -> float:
    """`head_dropout` as a float if it is a number in [0, 1); raises `ConfigError`."""
    return check_rate(head_dropout, "RDrop.head_dropout", "dropout before the classifier", "0.1-0.3")


def linear_layers(net: nn.Layer) -> List[Tuple[str, nn.Linear]]:
    """`[(name, layer)]` of the `nn.Linear` sublayers of `net`, in registration order."""
    return [(name, layer) for name, layer in net.named_sublayers() if isinstance(layer, nn.Linear)]


def classifier_name(net: nn.Layer) -> Optional[str]:
    """The name of `net`'s classifier: its last `nn.Linear` sublayer in registration order (`out` in
    PaddleClas's Res2Net and SE-ResNet, `fc` in ResNet, PP-LCNet, PP-HGNet and MobileNetV3, `head` in ViT),
    or None if it has none."""
    linears = linear_layers(net)
    return linears[-1][0] if linears else None


def find_head(net: nn.Layer, head_layer: Optional[str]) -> nn.Layer:
    """The sublayer named `head_layer` (None: `classifier_name(net)`); if absent, an error listing the
    classifier candidates. Raises `ConfigError`."""
    head_layer = head_layer or classifier_name(net)
    if head_layer is None:
        raise ConfigError(
            f"RDrop.head_layer: the model {type(net).__name__} has no Linear layer to take as its classifier: "
            f"set RDrop.head_layer to the layer that gives its logits"
        )
    layers = dict(net.named_sublayers())
    if head_layer in layers:
        return layers[head_layer]
    linears = [name for name, _ in linear_layers(net)]
    candidates = [name for name in linears if "." not in name] or linears[-5:]
    raise ConfigError(
        f"RDrop.head_layer: the model {type(net).__name__} has no sublayer {head_layer!r}; "
        f"its classifier candidates (Linear layers) are {candidates or 'none'}. "
        f"Set RDrop.head_layer to its classifier."
    )


def head_dropout(
    rate: float,
) -> Callable[[nn.Layer, Tuple[paddle.Tensor, ...]], Optional[Tuple[paddle.Tensor, ...]]]:
    """The forward pre-hook that drops the head's input features at `rate` in training."""

    def on_head_input(layer, inputs):
        if not layer.training:
            return None
        features, *rest = inputs
        return (F.dropout(features, p=rate, training=True), *rest)

    return on_head_input


def add_head_dropout(model: nn.Layer, rate: float, head_layer: Optional[str] = None) -> "HookRemoveHelper":
    """Dropout (`rate`, in [0, 1)) on the input of the sublayer `head_layer` of `model` (the classifier,
    e.g. ``out`` in Res2Net/SE-ResNet, ``fc`` in ResNet; None: `classifier_name`), in training only.

    Returns the hook's handle (``remove()``). Raises `ConfigError` for a bad rate or a missing layer
    (the message lists the model's Linear layers).
    """
    rate = check_head_dropout(rate)
    hook = head_dropout(rate)  # Paddle's stubs type a pre-hook's inputs as one Tensor; they are a tuple
    return find_head(unwrap(model), head_layer).register_forward_pre_hook(hook)  # type: ignore[arg-type]
