"""The k-pass forward of R-Drop (Liang et al., NeurIPS 2021), one small API for PaddleClas's engine and
for any Paddle loop, and the stochastic layers it adds through hooks (no parameter renamed). It owns
the runner's arguments (passes, strategy, head dropout) and checks them (`ConfigError`)."""

import warnings

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .drop_path import STAGES, SUPPORTED_FAMILIES, DropPath, check_drop_path, residual_blocks
from .errors import ConfigError, check_rate, first_line
from .loss import check_passes, logits_of

STRATEGIES = ("auto", "concat", "shared_trunk", "separate")
CHANCE_CALLS = 5  # training calls with equal passes before a model with stochastic layers of its own is stopped


def check_strategy(strategy):
    """`strategy` if it is one of `STRATEGIES`; raises `ConfigError`."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"RDrop.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    return strategy


def check_head_dropout(head_dropout):
    """`head_dropout` as a float if it is a number in [0, 1); raises `ConfigError`."""
    return check_rate(head_dropout, "RDrop.head_dropout", "dropout before the classifier", "0.1-0.3")


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


def own_rate_arguments(net):
    """The arguments of `net`'s class that set the rate of stochastic layers of its own (`drop_rate`,
    `drop_path_rate`, `dropout_prob`, ... of PaddleClas's ViT, Swin, ConvNeXt, PP-HGNet, PP-LCNet and
    others), in signature order; through `**kwargs`, those of the base classes it passes them to
    (DeiT's distilled model: its ViT's)."""
    import inspect

    names = []
    for cls in type(net).__mro__:
        if "__init__" not in vars(cls):
            continue
        try:
            parameters = inspect.signature(vars(cls)["__init__"]).parameters
        except (TypeError, ValueError):
            break
        names += [
            name
            for name in parameters
            if "drop" in name and not name.startswith("_") and name not in names and _reads_argument(cls, name)
        ]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            break
    return names


def _reads_argument(cls, name):
    """Whether the source of `cls` reads its argument `name` anywhere but in ``self.<name> = <name>``
    (PaddleClas's CSPNet stores its `drop_rate` and never reads it); True when the source is not at hand."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return True
    stores = set()
    for node in ast.walk(tree):  # `self.<name> = <name>`: its right-hand side reads nothing yet
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
            and all(
                isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                for t in node.targets
            )
        ):
            stores.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load) and id(node) not in stores:
            return True
        if isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.ctx, ast.Load):
            return True
    return False


def randomness_fixes(net, builds_with=None):
    """The settings that make the k passes of `net` differ, as `(key, usual value)` with the key as a user
    writes it, the one to try first first: `net`'s own rate arguments (`Arch.drop_path_rate` before the
    others, 0.1; with `builds_with(name, 0.1)`, only those it is true for), `RDrop.drop_path` (0.1) if drop
    path knows `net`'s residual blocks, and `RDrop.head_dropout` (0.2), which fits any model with a
    classifier."""
    own = [name for name in own_rate_arguments(net) if builds_with is None or builds_with(name, 0.1)]
    own.sort(key=lambda name: name != "drop_path_rate")
    fixes = [(f"Arch.{name}", 0.1) for name in own]
    if residual_blocks(net):
        fixes.append(("RDrop.drop_path", 0.1))
    return fixes + [("RDrop.head_dropout", 0.2)]


def classifier_name(net):
    """The name of `net`'s classifier: its last `nn.Linear` sublayer in registration order (`out` in
    PaddleClas's Res2Net and SE-ResNet, `fc` in ResNet, PP-LCNet, PP-HGNet and MobileNetV3, `head` in ViT).
    Raises `ConfigError` if it has none."""
    linears = [name for name, layer in net.named_sublayers() if isinstance(layer, nn.Linear)]
    if not linears:
        raise ConfigError(
            f"RDrop.head_layer: the model {type(net).__name__} has no Linear layer to take as its classifier: "
            f"set RDrop.head_layer to the layer that gives its logits"
        )
    return linears[-1]


def find_head(net, head_layer):
    """The sublayer named `head_layer` (None: `classifier_name(net)`); if absent, an error listing the
    classifier candidates."""
    head_layer = head_layer or classifier_name(net)
    layers = dict(net.named_sublayers())
    if head_layer in layers:
        return layers[head_layer]
    linears = [name for name, layer in layers.items() if isinstance(layer, nn.Linear)]
    candidates = [name for name in linears if "." not in name] or linears[-5:]
    raise ConfigError(
        f"RDrop.head_layer: the model {type(net).__name__} has no sublayer {head_layer!r}; "
        f"its classifier candidates (Linear layers) are {candidates or 'none'}. "
        f"Set RDrop.head_layer to its classifier."
    )


def add_head_dropout(model, head_dropout, head_layer=None):
    """Dropout (rate `head_dropout`, in [0, 1)) on the input of the sublayer `head_layer` of `model`
    (the classifier, e.g. ``out`` in Res2Net/SE-ResNet, ``fc`` in ResNet), in training only: the
    one-pass baseline of R-Drop (dropout before the classifier, as the R-Drop paper's models and
    timm's `drop_rate` place it). A forward pre-hook, so no parameter is renamed and eval is stock.

    Returns the hook's handle (``remove()``). Raises `ConfigError` for a bad rate or a missing layer
    (the message lists the model's Linear layers).
    """
    rate = check_head_dropout(head_dropout)

    def on_head_input(layer, inputs):
        if not layer.training:
            return None
        features, *rest = inputs
        return (F.dropout(features, p=rate, training=True), *rest)

    return find_head(unwrap(model), head_layer).register_forward_pre_hook(on_head_input)


def _drop_path(net, rate, stages, builds_with=None):
    """`DropPath(net, rate, stages)`; on a family it does not know, the error names what fits `net` instead
    (`randomness_fixes`)."""
    if check_drop_path(rate) > 0 and residual_blocks(net) is None:
        others = " or ".join(key for key, _ in randomness_fixes(net, builds_with))
        raise ConfigError(
            f"RDrop.drop_path: {type(net).__name__} is not a backbone drop path knows where to put; it supports "
            f"the residual blocks of {'; '.join(SUPPORTED_FAMILIES)}. Set RDrop.drop_path: 0 and use {others}"
        )
    return DropPath(net, rate, stages)


def add_drop_path(model, drop_path, stages=STAGES):
    """Per-sample stochastic depth (Huang et al., ECCV 2016; placed as timm's ResNets place it) on the
    residual branches of `stages` (1-4) of a ResNet-family, PP-HGNet(V2) or MobileNetV3 `model`, in
    training only, rate rising linearly to `drop_path` at the last chosen block. Forward hooks: no
    parameter is renamed.

    Returns the `DropPath` (``remove()``); raises `ConfigError` for a bad rate or stage, stages without
    a residual block, or a model whose residual blocks it does not know.
    """
    return _drop_path(unwrap(model), drop_path, stages)


def add_stochastic_layers(model, head_dropout=0.0, head_layer=None, drop_path=0.0, drop_path_stages=STAGES):
    """The stochastic layers of a config's baseline twin, one pass: `add_drop_path` if `drop_path` > 0
    (stochastic depth, Huang et al. 2016) and `add_head_dropout` if `head_dropout` > 0 (dropout,
    Srivastava et al. 2014), both in training only, no parameter renamed.

    Returns the list of objects whose ``remove()`` takes them off again; raises `ConfigError`.
    """
    added = []
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
        builds_with: optional ``(arch_key, value) -> bool``, whether the model can be built with that
            argument: the identical-passes error then offers only the ``Arch.`` keys it can.

    Raises:
        ConfigError: a bad argument, a missing ``head_layer`` (the candidates are listed), drop path on
            a model it does not know, ``shared_trunk`` on a model with stochastic layers of its own;
            and, at the first training call, passes that came out identical (nothing makes them differ).

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

    def __init__(
        self,
        model,
        passes=2,
        strategy="auto",
        head_dropout=0.0,
        head_layer=None,
        drop_path=0.0,
        drop_path_stages=STAGES,
        augment_per_pass=False,
        builds_with=None,
    ):
        self.model = model
        self.builds_with = builds_with
        self.passes = check_passes(passes)
        if not isinstance(augment_per_pass, bool):
            raise ConfigError(f"RDrop.augment_per_pass must be true or false, got {augment_per_pass!r}")
        self.augment_per_pass = augment_per_pass
        self.head_dropout = check_head_dropout(head_dropout)
        self.head_layer = head_layer
        net = unwrap(model)
        own_stochastic = stochastic_layers(net)
        self._hooks = []
        drop = _drop_path(net, drop_path, drop_path_stages, builds_with) if drop_path else None
        self._auto = check_strategy(strategy) == "auto"
        if self._auto:
            adds_randomness = self.head_dropout > 0 or drop is not None
            exact = adds_randomness and not own_stochastic and not augment_per_pass
            strategy = "shared_trunk" if exact else "concat"
        if strategy == "shared_trunk" and augment_per_pass:
            raise ConfigError(
                "RDrop.strategy: shared_trunk runs the trunk once on one input, but with "
                "RDrop.augment_per_pass every pass has its own input: use strategy: concat (or auto)"
            )
        if strategy == "shared_trunk" and own_stochastic:
            raise ConfigError(
                f"RDrop.strategy: shared_trunk would be wrong for this model: its stochastic layers "
                f"{own_stochastic[:5]} run before the head, so the trunk's k passes must differ and "
                f"one shared trunk pass would make them equal. Use strategy: concat (or auto)."
            )
        self.strategy = strategy
        self._own_stochastic = own_stochastic
        self._tiling = False
        self._ran = False  # the first training call turns the model's refusal of its input into a ConfigError
        self._check_head = self.head_dropout > 0 and head_layer is None  # see `_head_checked_call`
        self._identical_calls = 0
        self._trunk_checked = False  # shared_trunk: the first call checks that every path goes through the tile
        # with no stochastic layer of its own added, check once that the model's make passes differ
        self._verified = self.head_dropout > 0 or drop is not None or augment_per_pass
        if strategy == "shared_trunk":  # registered first: the k copies then get their own masks
            self.shared_until = (drop and drop.first_block) or find_head(net, head_layer)
            self._tile_hook = self.shared_until.register_forward_pre_hook(self._tile)
            self._hooks.append(self._tile_hook)
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
        """``images`` ``[B, C, H, W]`` -> in train mode the k passes' output stacked pass-major,
        ``[k * B, classes]`` (``[pass_0; pass_1; ...]``; a dict, list or tuple of such for such an output),
        which `RDropLoss` splits; in eval mode one plain pass ``[B, classes]``.

        With ``augment_per_pass``, a training batch holds each sample's k views along the channel
        axis, ``[B, k * C, H, W]`` (view i in channels ``i*C .. (i+1)*C - 1``, what `PassViews` and
        PaddleClas's dataset give), and pass i sees view i.

        Raises `ConfigError`: with ``augment_per_pass``, a batch that is not k views; in a runner that adds
        no stochastic layer, passes whose classifier input came out identical (`_check_passes_differ`).
        """
        if not unwrap(self.model).training:
            return self.model(images)
        if not self._ran:
            self._ran = True
            try:
                return self(images)
            except (AssertionError, ValueError) as error:  # the model's own input checks, at the first step
                if isinstance(error, ConfigError):
                    raise
                raise ConfigError(input_refused_message(unwrap(self.model), images, error)) from None
            except (NameError, AttributeError, IndexError, RuntimeError, TypeError) as error:
                raise ConfigError(
                    f"Arch: PaddleClas's {type(unwrap(self.model)).__name__} fails on its first training batch of "
                    f"{list(images.shape)} ({type(error).__name__}: {first_line(error)}): a fault of its code, "
                    f"not of the config; PADDLECLAS_RDROP_TRACEBACK=1 shows where"
                ) from None
        if self._check_head:
            return self._head_checked_call(images)
        if self._verified:
            return self._forward(images)
        features = []  # the classifier's input: a zero-initialised new classifier gives equal logits
        watch = self._classifier_input_watch(features)
        try:
            output = self._forward(images)
        finally:
            if watch is not None:
                watch.remove()
        self._check_passes_differ(paddle.concat(features, axis=0) if features else logits_of(output))
        return output

    def _head_checked_call(self, images):
        """The first training call with head dropout on the default classifier (the last Linear layer): for a
        model with several outputs, R-Drop compares the first, and that Linear must be the one giving it
        (GoogLeNet's last Linear is an auxiliary head's); raises `ConfigError` naming the right one if not."""
        self._check_head = False
        net = unwrap(self.model)
        produced = {}  # id of a Linear layer's output -> its name

        def watcher(name):
            def note(layer, inputs, output):
                produced.setdefault(id(output), name)  # returns None: the output stays as it is

            return note

        linears = [(name, layer) for name, layer in net.named_sublayers() if isinstance(layer, nn.Linear)]
        watches = [layer.register_forward_post_hook(watcher(name)) for name, layer in linears]
        try:
            output = self(images)
        finally:
            for watch in watches:
                watch.remove()
        default = classifier_name(net)
        gives = produced.get(id(logits_of(output)))
        if isinstance(output, (list, tuple)) and gives not in (None, default):
            raise ConfigError(
                f"RDrop.head_layer: {type(net).__name__}'s first output, the logits R-Drop compares, comes from its "
                f"Linear layer {gives!r}, not from {default!r} (its last Linear, where head dropout would go): "
                f"set RDrop.head_layer: {gives}"
            )
        return output

    def _classifier_input_watch(self, features):
        """A pre-hook that appends the classifier's input to `features` (None for a model without a Linear)."""
        try:
            head = find_head(unwrap(self.model), self.head_layer)
        except ConfigError:
            return None
        return head.register_forward_pre_hook(lambda layer, inputs: features.append(inputs[0].detach()))

    def _forward(self, images):
        """The k passes of `__call__` in training."""
        if self.augment_per_pass:
            views = self.views_pass_major(images)
            if self.strategy == "separate":
                output = _concat_outputs([self.model(view) for view in views.split(self.passes, axis=0)])
            else:
                output = self.model(views)
        elif self.strategy == "separate":
            output = _concat_outputs([self.model(images) for _ in range(self.passes)])
        elif self.strategy == "concat":
            output = self.model(paddle.concat([images] * self.passes, axis=0))
        else:
            output = self._shared_trunk_call(images)
        return output

    def _shared_trunk_call(self, images):
        """The shared_trunk forward. At the first call, a model with a second path around the layer where the
        trunk's output is repeated (DeiT's distillation head beside its classifier) fails or gives B rows
        instead of k * B: ``auto`` then uses ``concat`` (with a warning), an explicit shared_trunk is an error."""
        self._tiling = True
        try:
            output, reason = self.model(images), None
        except Exception as error:  # the model's own shape checks, which say it in many ways
            if self._trunk_checked:
                raise
            output, reason = None, first_line(error)
        finally:
            self._tiling = False
        if self._trunk_checked:
            return output
        expected = self.passes * images.shape[0]
        if output is not None and logits_of(output).shape[0] == expected:
            self._trunk_checked = images.shape[0] > 1  # rows of a batch of 1 can come from broadcasting
            return output
        reason = reason or f"{logits_of(output).shape[0]} output rows, not {expected}"
        name = next(n for n, layer in unwrap(self.model).named_sublayers() if layer is self.shared_until)
        message = (
            f"RDrop.strategy: shared_trunk does not fit {type(unwrap(self.model)).__name__}: a path to its "
            f"output goes around {name!r}, where the trunk's output is repeated ({reason}); "
        )
        if not self._auto:
            raise ConfigError(message + "use strategy: concat (or auto)")
        warnings.warn(message + "strategy auto uses concat")
        self._hooks.remove(self._tile_hook)
        self._tile_hook.remove()
        self.strategy = "concat"
        return self.model(paddle.concat([images] * self.passes, axis=0))

    def views_pass_major(self, images):
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

    def _head_name(self):
        """`head_layer` if the model has it, else the classifier its last Linear layer is (for messages);
        None without one."""
        net = unwrap(self.model)
        if self.head_layer and self.head_layer in dict(net.named_sublayers()):
            return self.head_layer
        try:
            return classifier_name(net)
        except ConfigError:
            return None

    def _check_passes_differ(self, stacked):
        """`stacked` (``[k * B, ...]``, the classifier's input or the logits) must differ between the passes.
        Without stochastic layers of the model's own, equal up to float rounding at the first call is an
        error; with them, only bitwise equal, and at `CHANCE_CALLS` calls in a row (a small batch can draw
        no drop at all)."""
        first, *others = stacked.split(self.passes, axis=0)
        if self._own_stochastic:  # active layers of its own: any difference is theirs (ConvNeXt's layer scale
            same = all(bool((first == other).all()) for other in others)  # makes it 1e-6 at initialisation)
        else:  # equal up to float rounding: the rows of one batch can differ in the last bits on CPU (oneDNN)
            same = all(bool(paddle.allclose(first, other, rtol=1e-5, atol=1e-6)) for other in others)
        if not same:
            self._verified = True
            return
        self._identical_calls += 1
        if not self._own_stochastic or self._identical_calls >= CHANCE_CALLS:
            raise ConfigError(
                identical_passes_message(
                    unwrap(self.model), self.passes, self._head_name(), self.builds_with, self._own_stochastic
                )
            )

    def repeat_labels(self, labels):
        """Labels of one pass, ``[B, 1]`` int64 or ``[B, C]`` soft, repeated for the k stacked passes
        (``[k * B, ...]``): a stock CE on the stack is then the mean CE over the passes."""
        return paddle.concat([labels] * self.passes, axis=0)

    def split_passes(self, output):
        """The stacked output ``[k * B, C]`` (or a dict, list or tuple of them) as a list of k outputs
        ``[B, C]`` (dicts, lists or tuples of them)."""
        if isinstance(output, dict):
            parts = {key: value.split(self.passes, axis=0) for key, value in output.items()}
            return [{key: parts[key][i] for key in parts} for i in range(self.passes)]
        if isinstance(output, (list, tuple)):
            parts = [value.split(self.passes, axis=0) for value in output]
            return [type(output)(part[i] for part in parts) for i in range(self.passes)]
        return output.split(self.passes, axis=0)

    def remove(self):
        """Detach every hook it added: the model is the stock one again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def identical_passes_message(net, passes, head_name, builds_with=None, active=()):
    """The error for passes of `net` that came out identical: every fix of `randomness_fixes` (`builds_with`
    passed on), each with its usual value. `head_name`: the classifier head dropout goes before (None: the
    model has no Linear layer); `active`: the model's own stochastic layers, active yet without effect."""
    fixes = randomness_fixes(net, builds_with)
    own = [key for key, _ in fixes if key.startswith("Arch.")]
    if active:
        first = (
            f"its own stochastic layers ({', '.join(active[:3])}{', ...' if len(active) > 3 else ''}) made no "
            f"difference in {CHANCE_CALLS} steps in a row: raise their rate, or set"
        )
    elif own:
        keys = " or ".join(own)
        first = f"has stochastic layers of its own, built at rate 0 here. Set {keys} (e.g. -o {own[0]}=0.1), or"
    else:
        first = "has no active dropout. Set"
    if ("RDrop.drop_path", 0.1) in fixes:
        first += " RDrop.drop_path (e.g. 0.1, stochastic depth in its residual blocks) or"
    if head_name is None:
        head = "RDrop.head_dropout (e.g. 0.2) with RDrop.head_layer, the layer that gives its logits (it has no Linear)"
    else:
        head = f"RDrop.head_dropout (e.g. 0.2) with RDrop.head_layer: {head_name} (its classifier)"
    return (
        f"R-Drop: the {passes} passes gave identical outputs, so the KL term is 0 and R-Drop does nothing: "
        f"{type(net).__name__} {first} {head}."
    )


def input_refused_message(net, images, error):
    """The error for a model that refuses its first training batch ``[B, C, H, W]`` (`error`, its own): the
    size, the reason, and the keys that set them (`Arch.img_size` for a model built for one size)."""
    import inspect

    try:
        sized = "img_size" in inspect.signature(type(net).__init__).parameters
    except (TypeError, ValueError):
        sized = False
    fix = (
        f"it is built for one image size: set Arch.img_size={images.shape[-1]}, or train at the size it is built for"
        if sized
        else "train at a size it takes (Global.image_shape and the crops of DataLoader.Train.dataset.transform_ops)"
    )
    return f"Arch: {type(net).__name__} cannot take a batch of {list(images.shape)} images ({first_line(error)}): {fix}"
