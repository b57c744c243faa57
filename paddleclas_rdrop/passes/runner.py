"""The k-pass forward of R-Drop: one small API for PaddleClas's engine and for any Paddle loop.
It owns the runner's settings (passes, strategy, head dropout) and checks them."""
import numbers

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .drop_path import STAGES, DropPath
from ..errors import RDropConfigError
from ..loss import PASSES_ATTRIBUTE

STRATEGIES = ("auto", "concat", "shared_trunk", "separate")


def check_passes(passes):
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 2:
        raise RDropConfigError(
            f"RDrop.passes must be an integer >= 2 (R-Drop compares k >= 2 passes), got {passes!r}")
    return passes


def check_strategy(strategy):
    if strategy not in STRATEGIES:
        raise RDropConfigError(f"RDrop.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    return strategy


def check_head_dropout(head_dropout):
    if isinstance(head_dropout, bool) or not isinstance(head_dropout, numbers.Real) or not 0 <= head_dropout < 1:
        raise RDropConfigError(f"RDrop.head_dropout must be a number in [0, 1) (dropout before the "
                               f"classifier), got {head_dropout!r}; 0.1-0.3 is usual")
    return float(head_dropout)


_STOCHASTIC_TYPES = (nn.Dropout, nn.Dropout2D, nn.Dropout3D, nn.AlphaDropout)
_STOCHASTIC_NAME_HINTS = ("dropout", "droppath", "dropblock", "stochasticdepth")


def stochastic_layers(model):
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


def unwrap(model):
    """The user's layer inside a `paddle.DataParallel`, or the model itself."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def find_head(net, head_layer):
    """The sublayer named `head_layer`; if absent, an error listing the classifier candidates."""
    layers = dict(net.named_sublayers())
    if head_layer in layers:
        return layers[head_layer]
    linears = [name for name, layer in layers.items() if isinstance(layer, nn.Linear)]
    candidates = [name for name in linears if "." not in name] or linears[-5:]
    raise RDropConfigError(
        f"RDrop.head_layer: the model {type(net).__name__} has no sublayer {head_layer!r}; "
        f"its classifier candidates (Linear layers) are {candidates or 'none'}. "
        f"Set RDrop.head_layer to its classifier.")


def add_head_dropout(model, head_dropout, head_layer="out"):
    """Dropout on the input of `head_layer` in training, one pass: the baseline of R-Drop.

    A forward pre-hook, so no parameter is renamed; returns the hook's handle.
    """
    rate = check_head_dropout(head_dropout)

    def on_head_input(layer, inputs):
        if not layer.training:
            return None
        features, *rest = inputs
        return (F.dropout(features, p=rate, training=True), *rest)

    return find_head(unwrap(model), head_layer).register_forward_pre_hook(on_head_input)


def add_drop_path(model, drop_path, stages=STAGES):
    """Per-sample stochastic depth on the residual branches of `stages`, in training, one pass:
    through forward hooks, so no parameter is renamed; returns the `DropPath` (`remove()`)."""
    return DropPath(unwrap(model), drop_path, stages)


def add_stochastic_layers(model, head_dropout=0.0, head_layer="out", drop_path=0.0, drop_path_stages=STAGES):
    """The stochastic layers of a config's baseline twin: drop path and head dropout, one pass.
    Returns the objects whose `remove()` takes them off again."""
    added = []
    if drop_path > 0:
        added.append(add_drop_path(model, drop_path, drop_path_stages))
    if head_dropout > 0:
        added.append(add_head_dropout(model, head_dropout, head_layer))
    return added


def _concat_outputs(outputs):
    if isinstance(outputs[0], dict):
        return {key: paddle.concat([o[key] for o in outputs], axis=0) for key in outputs[0]}
    return paddle.concat(outputs, axis=0)


def logits_of(output):
    """The logits of a model output, which PaddleClas models give as a tensor or a dict."""
    return output["logits"] if isinstance(output, dict) else output


class RDrop:
    """Prepares a classifier for R-Drop and runs it `passes` times per batch.

    The output of a training call stacks the passes pass-major, ``[pass_0; pass_1; ...]``,
    which is what `RDropLoss` splits; label the stack with `repeat_labels` so stock
    losses (CELoss) give the mean over passes. In eval mode it is one plain pass.

    Stochastic layers it adds, in training only and through forward hooks (no parameter is
    renamed, so the state_dict and checkpoints stay those of the stock architecture):
    ``head_dropout`` on the input of ``head_layer`` (the classifier), and ``drop_path``
    (stochastic depth, linear rule) on the residual branches of ``drop_path_stages``.

    Strategies: ``concat`` runs one call on the batch repeated k times (BatchNorm sees the
    statistics of one pass, running statistics move once); ``separate`` makes k calls (the
    article's code); ``shared_trunk`` runs the deterministic prefix once (every layer before
    the first block drop path draws a mask in, or before the head with head dropout alone)
    and repeats its output k times; that is exact (same loss and gradients as ``concat`` for
    the same masks) when the model has no stochastic layer of its own, at the cost of one
    pass plus k - 1 passes of the rest; ``auto`` picks it whenever it is exact, else ``concat``.
    """

    def __init__(self, model, passes=2, strategy="auto", head_dropout=0.0, head_layer="out",
                 drop_path=0.0, drop_path_stages=STAGES):
        self.model = model
        self.passes = check_passes(passes)
        self.head_dropout = check_head_dropout(head_dropout)
        self.head_layer = head_layer
        net = unwrap(model)
        own_stochastic = stochastic_layers(net)
        self._hooks = []
        drop = DropPath(net, drop_path, drop_path_stages) if drop_path else None
        if check_strategy(strategy) == "auto":
            adds_randomness = self.head_dropout > 0 or drop is not None
            strategy = "shared_trunk" if adds_randomness and not own_stochastic else "concat"
        if strategy == "shared_trunk" and own_stochastic:
            raise RDropConfigError(
                f"RDrop.strategy: shared_trunk would be wrong for this model: its stochastic layers "
                f"{own_stochastic[:5]} run before the head, so the trunk's k passes must differ and "
                f"one shared trunk pass would make them equal. Use strategy: concat (or auto).")
        self.strategy = strategy
        self._tiling = False
        # with no stochastic layer of its own added, check once that the model's make passes differ
        self._verified = self.head_dropout > 0 or drop is not None
        if strategy == "shared_trunk":  # registered first: the k copies then get their own masks
            self.shared_until = (drop and drop.first_block) or find_head(net, head_layer)
            self._hooks.append(self.shared_until.register_forward_pre_hook(self._tile))
        if drop is not None:
            self._hooks.append(drop)
        if self.head_dropout > 0:
            self._hooks.append(add_head_dropout(net, self.head_dropout, head_layer))

    def _tile(self, layer, inputs):
        """shared_trunk: the deterministic prefix's output repeated k times where randomness starts."""
        if not (layer.training and self._tiling):
            return None
        features, *rest = inputs
        return (paddle.concat([features] * self.passes, axis=0), *rest)

    def __call__(self, images):
        """One pass in eval mode; in train mode the k passes, stacked pass-major."""
        if not unwrap(self.model).training:
            return self.model(images)
        if self.strategy == "separate":
            output = _concat_outputs([self.model(images) for _ in range(self.passes)])
        elif self.strategy == "concat":
            output = self.model(paddle.concat([images] * self.passes, axis=0))
        else:
            self._tiling = True
            try:
                output = self.model(images)
            finally:
                self._tiling = False
        logits = logits_of(output)
        setattr(logits, PASSES_ATTRIBUTE, self.passes)  # RDropLoss reads the number of passes here
        if not self._verified:
            self._check_passes_differ(logits)
        return output

    def _check_passes_differ(self, logits):
        first, *others = logits.split(self.passes, axis=0)
        if all(bool(paddle.equal_all(first, other)) for other in others):
            raise RDropConfigError(
                f"R-Drop: the {self.passes} passes gave identical outputs, so the KL term is 0 and "
                f"R-Drop does nothing: {type(unwrap(self.model)).__name__} has no active dropout. "
                f"Set RDrop.drop_path (e.g. 0.1, stochastic depth in its residual blocks) or "
                f"RDrop.head_dropout (e.g. 0.2, dropout before its classifier {self.head_layer!r}).")
        self._verified = True

    def repeat_labels(self, labels):
        """The labels of one pass repeated for the k stacked passes (hard or soft labels)."""
        return paddle.concat([labels] * self.passes, axis=0)

    def split_passes(self, output):
        """The stacked output split into its k passes."""
        if isinstance(output, dict):
            parts = {key: value.split(self.passes, axis=0) for key, value in output.items()}
            return [{key: parts[key][i] for key in parts} for i in range(self.passes)]
        return output.split(self.passes, axis=0)

    def remove(self):
        """Detach every hook: the model is the stock one again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
