"""The ``shared_trunk`` strategy of the k-pass runner: the deterministic prefix of a model runs once, and its
output is repeated k times where randomness starts (the first block drop path draws a mask in, or the head
with head dropout alone), so the k passes share the trunk's cost."""

from typing import Optional, Tuple

import paddle

from .errors import first_line
from .loss import ModelOutput, logits_of


class SharedTrunk:
    """Repeats the input of `layer` k = `passes` times along the batch axis in a training call (a forward
    pre-hook, registered before the stochastic layers so that the k copies get their own masks).

    Until `checked`, a call says whether every path to the output went through `layer`: a model with a
    second path around it (DeiT's distillation head beside its classifier) fails or gives B rows instead
    of k * B. A batch of one does not settle it (its rows can come from broadcasting)."""

    def __init__(self, layer: paddle.nn.Layer, passes: int) -> None:
        self.layer, self.passes, self.checked, self._tiling = layer, passes, False, False
        self._hook = layer.register_forward_pre_hook(self._tile)

    def _tile(self, layer, inputs):
        if not (layer.training and self._tiling):
            return None
        features, *rest = inputs
        return (paddle.concat([features] * self.passes, axis=0), *rest)

    def __call__(self, model: paddle.nn.Layer, images: paddle.Tensor) -> Tuple[Optional[ModelOutput], Optional[str]]:
        """`(output, None)` of `model(images)` with the trunk shared; until `checked`, `(None, reason)` when a
        path went around `layer` (the model's own error, or the rows it gave)."""
        self._tiling = True
        try:
            output, reason = model(images), None
        except Exception as error:  # the model's own shape checks, which say it in many ways
            if self.checked:
                raise
            output, reason = None, first_line(error)
        finally:
            self._tiling = False
        if self.checked:
            return output, None
        expected = self.passes * images.shape[0]
        if output is not None and logits_of(output).shape[0] == expected:
            self.checked = images.shape[0] > 1
            return output, None
        return None, reason or f"{logits_of(output).shape[0]} output rows, not {expected}"

    def remove(self) -> None:
        """Detach the hook: the model's calls are plain again."""
        self._hook.remove()
