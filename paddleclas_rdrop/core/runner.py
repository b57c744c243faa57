"""The k-pass forward of R-Drop (Liang et al., NeurIPS 2021), one small API for PaddleClas's engine and
for any Paddle loop, with the stochastic layers it adds through hooks (no parameter renamed). It owns
the runner's arguments (passes, strategy) and checks them (`ConfigError`); what it finds wrong with a
model at its first training calls it raises as facts (`PassesIdentical`, `InputRefused`, `ModelFailed`)."""

import warnings
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Union

import paddle

from .drop_path import STAGES, DropPath, add_drop_path
from .errors import ConfigError, InputRefused, ModelFailed, PassesIdentical
from .head_dropout import add_head_dropout, check_head_dropout, classifier_name, find_head, linear_layers
from .loss import ModelOutput, check_passes, logits_of
from .models import stochastic_layers, unwrap
from .shared_trunk import SharedTrunk

if TYPE_CHECKING:
    from paddle.nn.layer.layers import HookRemoveHelper

STRATEGIES = ("auto", "concat", "shared_trunk", "separate")
CHANCE_CALLS = 5  # training calls with equal passes before a model with stochastic layers of its own is stopped
MODEL_FAULTS = (NameError, AttributeError, IndexError, RuntimeError, TypeError)  # its code's, at the first step


def check_strategy(strategy: Any) -> str:
    """`strategy` if it is one of `STRATEGIES`; raises `ConfigError`."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"RDrop.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    return strategy


def add_stochastic_layers(
    model: paddle.nn.Layer,
    head_dropout: float = 0.0,
    head_layer: Optional[str] = None,
    drop_path: float = 0.0,
    drop_path_stages: Sequence[int] = STAGES,
) -> List[Union[DropPath, "HookRemoveHelper"]]:
    """The stochastic layers of a config's baseline twin, one pass: `add_drop_path` if `drop_path` > 0
    (stochastic depth, Huang et al. 2016) and `add_head_dropout` if `head_dropout` > 0 (dropout,
    Srivastava et al. 2014), both in training only, no parameter renamed.

    Returns the list of objects whose ``remove()`` takes them off again; raises `ConfigError`.
    """
    added: List[Union[DropPath, "HookRemoveHelper"]] = []
    if drop_path > 0:
        added.append(add_drop_path(model, drop_path, drop_path_stages))
    if head_dropout > 0:
        added.append(add_head_dropout(model, head_dropout, head_layer))
    return added


def _concat_outputs(outputs):
    if isinstance(outputs[0], dict):
        return {key: paddle.concat([o[key] for o in outputs], axis=0) for key in outputs[0]}
    if isinstance(outputs[0], (list, tuple)):
        return type(outputs[0])(paddle.concat(parts, axis=0) for parts in zip(*outputs))
    return paddle.concat(outputs, axis=0)


def _noter(produced, name):
    """A forward post-hook that notes the id of the layer `name`'s output in `produced` (the output stays)."""

    def note(layer, inputs, output):
        produced.setdefault(id(output), name)

    return note


class RDrop:
    """Prepares a classifier for R-Drop and runs it k = `passes` times per batch (Liang et al., "R-Drop:
    Regularized Dropout for Neural Networks", NeurIPS 2021; the official code's `[x; x]` forward is
    the ``concat`` strategy, its two calls ``separate``).

    Args:
        model: a `paddle.nn.Layer` classifier (or its `paddle.DataParallel`) whose output is logits
            ``[B, C]``, a dict with ``"logits"``, or a list or tuple of logits, the main ones first
            (`logits_of`).
        passes: k >= 2 (the paper's 2).
        strategy: ``auto`` (default), ``concat``, ``shared_trunk`` or ``separate`` (below).
        head_dropout: dropout rate in [0, 1) added on the input of ``head_layer`` (the classifier).
        head_layer: the classifier's sublayer name (``out`` in Res2Net/SE-ResNet, ``fc`` in ResNet); None
            (default): the model's last ``Linear`` layer (`classifier_name`).
        drop_path: stochastic depth rate in [0, 1) of the last chosen residual block (linear rule).
        drop_path_stages: the residual stages (1-4) that get drop path.
        augment_per_pass: each pass sees its own augmented view of a sample (the batch holds k views
            per sample, see `__call__`) instead of the same image (the paper's R-Drop, the default).

    Raises:
        ConfigError: a bad argument, a missing ``head_layer`` (the candidates are listed), drop path on
            a model it does not know (`UnknownBlocks`), ``shared_trunk`` on a model with stochastic layers
            of its own; and at the first training calls (`_checked_forward`): passes that came out identical
            (`PassesIdentical`), a model refusing its input (`InputRefused`) or failing (`ModelFailed`).

    The stochastic layers it adds act in training only, through forward hooks: no parameter is
    renamed, so the state_dict and checkpoints stay those of the stock architecture.

    Strategies: ``concat`` runs one call on the batch repeated k times (BatchNorm sees the
    statistics of one pass, running statistics move once); ``separate`` makes k calls (the
    article's code); ``shared_trunk`` runs the deterministic prefix once (every layer before
    the first block drop path draws a mask in, or before the head with head dropout alone)
    and repeats its output k times; that is exact (same loss and gradients as ``concat`` for
    the same masks) when the model has no stochastic layer of its own, at the cost of one
    pass plus k - 1 passes of the rest; ``auto`` picks it whenever it is exact, else ``concat``.
    """

    _hooks: List[Union[SharedTrunk, DropPath, "HookRemoveHelper"]]

    def __init__(
        self,
        model: paddle.nn.Layer,
        passes: int = 2,
        strategy: str = "auto",
        head_dropout: float = 0.0,
        head_layer: Optional[str] = None,
        drop_path: float = 0.0,
        drop_path_stages: Sequence[int] = STAGES,
        augment_per_pass: bool = False,
    ) -> None:
        self.model = model
        self.passes = check_passes(passes)
        if not isinstance(augment_per_pass, bool):
            raise ConfigError(f"RDrop.augment_per_pass must be true or false, got {augment_per_pass!r}")
        self.augment_per_pass = augment_per_pass
        self.head_dropout = check_head_dropout(head_dropout)
        self.head_layer = head_layer
        net = unwrap(model)
        self._own_stochastic = stochastic_layers(net)
        drop = DropPath(net, drop_path, drop_path_stages) if drop_path else None
        self.requested = check_strategy(strategy)
        self.strategy = self._choose(strategy, adds_randomness=self.head_dropout > 0 or drop is not None)
        self._hooks, self._identical_calls = [], 0
        self._pending = {"input"}  # the checks of `_checked_forward` still to settle
        if self.head_dropout > 0 and head_layer is None:
            self._pending.add("head")
        if not (self.head_dropout > 0 or drop is not None or augment_per_pass):
            self._pending.add("passes")  # nothing added: check that the model's own layers make passes differ
        if self.strategy == "shared_trunk":  # registered first: the k copies then get their own masks
            self.shared_until = (drop and drop.first_block) or find_head(net, head_layer)
            self._trunk = SharedTrunk(self.shared_until, self.passes)
            self._hooks.append(self._trunk)
        if drop is not None:
            self._hooks.append(drop)
        if self.head_dropout > 0:
            self._hooks.append(add_head_dropout(net, self.head_dropout, head_layer))

    def _choose(self, strategy, adds_randomness):
        """The strategy that runs: ``auto`` resolved (shared_trunk where it is exact, else concat); raises
        `ConfigError` for a shared_trunk that cannot be exact."""
        if strategy == "auto":
            exact = adds_randomness and not self._own_stochastic and not self.augment_per_pass
            return "shared_trunk" if exact else "concat"
        if strategy == "shared_trunk" and self.augment_per_pass:
            raise ConfigError(
                "RDrop.strategy: shared_trunk runs the trunk once on one input, but with "
                "RDrop.augment_per_pass every pass has its own input: use strategy: concat (or auto)"
            )
        if strategy == "shared_trunk" and self._own_stochastic:
            raise ConfigError(
                f"RDrop.strategy: shared_trunk would be wrong for this model: its stochastic layers "
                f"{self._own_stochastic[:5]} run before the head, so the trunk's k passes must differ and "
                f"one shared trunk pass would make them equal. Use strategy: concat (or auto)."
            )
        return strategy

    def __call__(self, images: paddle.Tensor) -> ModelOutput:
        """``images`` ``[B, C, H, W]`` -> in train mode the k passes' output stacked pass-major,
        ``[k * B, classes]`` (``[pass_0; pass_1; ...]``; a dict, list or tuple of such for such an output),
        which `RDropLoss` splits; in eval mode one plain pass ``[B, classes]``.

        With ``augment_per_pass``, a training batch holds each sample's k views along the channel
        axis, ``[B, k * C, H, W]`` (view i in channels ``i*C .. (i+1)*C - 1``, what `PassViews` and
        PaddleClas's dataset give), and pass i sees view i.

        Raises `ConfigError`: with ``augment_per_pass``, a batch that is not k views; and what the first
        training calls' checks find (`_checked_forward`).
        """
        if not unwrap(self.model).training:
            return self.model(images)
        if self._pending:
            return self._checked_forward(images)
        return self._forward(images)

    def _checked_forward(self, images):
        """A training call while first-call checks are pending, all in one forward:
        - ``input``, at the first call: the model's refusal of its input becomes `InputRefused`, a fault of
          its own code `ModelFailed`;
        - ``head``, with head dropout on the default classifier (its last Linear): for a model with several
          outputs R-Drop compares the first, and that Linear must give it (GoogLeNet's last Linear is an
          auxiliary head's); a `ConfigError` names the right one if not;
        - ``passes``, with no stochastic layer added: the passes must differ (`_check_passes_differ`).
        The shared trunk checks its own calls (`SharedTrunk`, `_shared_trunk_call`)."""
        net, once = unwrap(self.model), self._pending & {"input", "head"}  # checked at this call only
        self._pending -= once
        produced, features, watches = {}, [], []  # id of a Linear's output -> its name; the classifier's input
        if "head" in once:
            watches += [layer.register_forward_post_hook(_noter(produced, name)) for name, layer in linear_layers(net)]
        if "passes" in self._pending:
            watches += self._watch_classifier_input(net, features)
        try:
            output = self._forward(images)
        except (AssertionError, ValueError) as error:
            if "input" not in once or isinstance(error, ConfigError):
                raise
            raise InputRefused(net, images.shape, error) from None
        except MODEL_FAULTS as error:
            if "input" not in once:
                raise
            raise ModelFailed(net, images.shape, error) from None
        finally:
            for watch in watches:
                watch.remove()
        if "head" in once:
            self._check_head(output, produced.get(id(logits_of(output))))
        if "passes" in self._pending:
            self._check_passes_differ(paddle.concat(features, axis=0) if features else logits_of(output))
        return output

    def _watch_classifier_input(self, net, features):
        """A pre-hook that appends the classifier's input to `features` (none for a model without one)."""
        try:
            head = find_head(net, self.head_layer)
        except ConfigError:
            return []
        return [head.register_forward_pre_hook(lambda layer, inputs: features.append(inputs[0].detach()))]

    def _check_head(self, output, gives):
        """`gives`: the Linear layer whose output is the logits of `output`, None if none is."""
        default = classifier_name(unwrap(self.model))
        if isinstance(output, (list, tuple)) and gives not in (None, default):
            raise ConfigError(
                f"RDrop.head_layer: {type(unwrap(self.model)).__name__}'s first output, the logits R-Drop compares, "
                f"comes from its Linear layer {gives!r}, not from {default!r} (its last Linear, where head dropout "
                f"would go): set RDrop.head_layer: {gives}"
            )

    def _forward(self, images):
        """The k passes of `__call__` in training."""
        if self.augment_per_pass:
            views = self.views_pass_major(images)
            if self.strategy == "separate":
                return _concat_outputs([self.model(view) for view in views.split(self.passes, axis=0)])
            return self.model(views)
        if self.strategy == "separate":
            return _concat_outputs([self.model(images) for _ in range(self.passes)])
        if self.strategy == "concat":
            return self.model(paddle.concat([images] * self.passes, axis=0))
        return self._shared_trunk_call(images)

    def _shared_trunk_call(self, images):
        """The shared_trunk forward. Where a path to the output goes around the layer the trunk's output is
        repeated at (`SharedTrunk`), ``auto`` uses ``concat`` from then on (with a warning) and an explicit
        shared_trunk is an error."""
        output, reason = self._trunk(self.model, images)
        if reason is None:
            return output
        name = next(n for n, layer in unwrap(self.model).named_sublayers() if layer is self.shared_until)
        message = (
            f"RDrop.strategy: shared_trunk does not fit {type(unwrap(self.model)).__name__}: a path to its "
            f"output goes around {name!r}, where the trunk's output is repeated ({reason}); "
        )
        if self.requested != "auto":
            raise ConfigError(message + "use strategy: concat (or auto)")
        warnings.warn(message + "strategy auto uses concat")
        self._hooks.remove(self._trunk)
        self._trunk.remove()
        self.strategy = "concat"
        return self.model(paddle.concat([images] * self.passes, axis=0))

    def views_pass_major(self, images: paddle.Tensor) -> paddle.Tensor:
        """``[B, k * C, H, W]`` (k views per sample along the channels) -> ``[k * B, C, H, W]``,
        pass-major; raises `ConfigError` if the channels are not k views."""
        if images.ndim != 4 or images.shape[1] % self.passes:
            raise ConfigError(
                f"RDrop(augment_per_pass=True) takes the {self.passes} views of each sample along the "
                f"channel axis, [B, {self.passes} * C, H, W]; got a batch of shape {list(images.shape)}"
            )
        batch, channels, height, width = images.shape
        views = images.reshape([batch, self.passes, channels // self.passes, height, width])
        return views.transpose([1, 0, 2, 3, 4]).reshape([self.passes * batch, channels // self.passes, height, width])

    def head_name(self) -> Optional[str]:
        """`head_layer` if the model has it, else its classifier, its last Linear layer; None without one."""
        net = unwrap(self.model)
        if self.head_layer and self.head_layer in dict(net.named_sublayers()):
            return self.head_layer
        return classifier_name(net)

    def _check_passes_differ(self, stacked):
        """`stacked` (``[k * B, ...]``, the classifier's input or the logits) must differ between the passes.
        Without stochastic layers of the model's own, equal up to float rounding at the first call is
        `PassesIdentical`; with them, only bitwise equal, and at `CHANCE_CALLS` calls in a row (a small
        batch can draw no drop at all)."""
        first, *others = stacked.split(self.passes, axis=0)
        if self._own_stochastic:  # active layers of its own: any difference is theirs (ConvNeXt's layer scale
            same = all(bool((first == other).all()) for other in others)  # makes it 1e-6 at initialisation)
        else:  # equal up to float rounding: the rows of one batch can differ in the last bits on CPU (oneDNN)
            same = all(bool(paddle.allclose(first, other, rtol=1e-5, atol=1e-6)) for other in others)
        if not same:
            self._pending.discard("passes")
            return
        self._identical_calls += 1
        if not self._own_stochastic or self._identical_calls >= CHANCE_CALLS:
            raise PassesIdentical(unwrap(self.model), self.passes, self.head_name(), self._own_stochastic, CHANCE_CALLS)

    def repeat_labels(self, labels: paddle.Tensor) -> paddle.Tensor:
        """Labels of one pass, ``[B, 1]`` int64 or ``[B, C]`` soft, repeated for the k stacked passes
        (``[k * B, ...]``): a stock CE on the stack is then the mean CE over the passes."""
        return self.repeat_outputs(labels)

    def repeat_outputs(self, output: Any) -> Any:
        """An output of one pass (a tensor ``[B, ...]``, or a dict, list or tuple of them) repeated for the k
        stacked passes (``[k * B, ...]``): what a network that runs once gives beside the k passes."""
        if isinstance(output, dict):
            return {key: self.repeat_outputs(value) for key, value in output.items()}
        if isinstance(output, (list, tuple)):
            return type(output)(self.repeat_outputs(value) for value in output)
        return paddle.concat([output] * self.passes, axis=0)

    def split_passes(self, output: Any) -> Sequence[Any]:
        """The stacked output ``[k * B, C]`` (or a dict, list or tuple of them, nested: a DistillationModel's
        networks' outputs) as a list of k outputs ``[B, C]`` (dicts, lists or tuples of them)."""
        if isinstance(output, dict):
            parts = {key: self.split_passes(value) for key, value in output.items()}
            return [{key: parts[key][i] for key in parts} for i in range(self.passes)]
        if isinstance(output, (list, tuple)):
            columns = [self.split_passes(value) for value in output]
            return [type(output)(column[i] for column in columns) for i in range(self.passes)]
        return output.split(self.passes, axis=0)

    def remove(self) -> None:
        """Detach every hook it added: the model is the stock one again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
