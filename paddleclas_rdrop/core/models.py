"""What the runner and the stochastic layers read off a model: the layer inside a `paddle.DataParallel`
and the model's own stochastic layers."""

from typing import List

import paddle
import paddle.nn as nn

_STOCHASTIC_TYPES = (nn.Dropout, nn.Dropout2D, nn.Dropout3D, nn.AlphaDropout)
_STOCHASTIC_NAME_HINTS = ("dropout", "droppath", "dropblock", "stochasticdepth")


def unwrap(model: nn.Layer) -> nn.Layer:
    """The user's layer inside a `paddle.DataParallel`, or the model itself."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def stochastic_layers(model: nn.Layer) -> List[str]:
    """Names of the sublayers that make two train-mode passes differ (dropout, drop path, ...)."""
    names = []
    for name, layer in model.named_sublayers():
        kind = type(layer).__name__.lower()
        if not (isinstance(layer, _STOCHASTIC_TYPES) or any(h in kind for h in _STOCHASTIC_NAME_HINTS)):
            continue
        rate = getattr(layer, "p", getattr(layer, "drop_prob", None))
        if rate != 0:
            names.append(name)
    return names
