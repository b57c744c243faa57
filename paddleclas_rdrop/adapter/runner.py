"""The core's k-pass runner and stochastic layers with their errors worded for PaddleClas: what the core
raises as a fact (`PassesIdentical`, `InputRefused`, `ModelFailed`, `UnknownBlocks`) becomes a `ConfigError`
that names the config keys that fix it (`Arch.<rate>` of the model's own layers, `Arch.img_size`,
`Global.image_shape`, `RDrop.drop_path`, `RDrop.head_dropout`). The package's `RDrop` is this one."""

import contextlib
import inspect
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Sequence, Union

from ..core import drop_path, runner
from ..core.drop_path import SUPPORTED_FAMILIES, DropPath, residual_blocks
from ..core.errors import ConfigError, InputRefused, ModelFailed, PassesIdentical, UnknownBlocks, first_line
from ..core.loss import ModelOutput
from .models import randomness_fixes

if TYPE_CHECKING:
    import paddle
    from paddle.nn.layer.layers import HookRemoveHelper


@contextlib.contextmanager
def worded(builds_with: Optional[Callable[[str, Any], bool]] = None) -> Iterator[None]:
    """The core's facts raised inside, as `ConfigError`s in the config's keys; `builds_with` (`models.builds_with`)
    narrows the `Arch.` keys offered to those the model can be built with."""
    try:
        yield
    except PassesIdentical as fact:
        raise ConfigError(identical_passes_message(fact, builds_with)) from None
    except InputRefused as fact:
        raise ConfigError(input_refused_message(fact)) from None
    except ModelFailed as fact:
        net = type(fact.net).__name__
        raise ConfigError(
            f"Arch: PaddleClas's {net} fails on its first training batch of {fact.shape} "
            f"({type(fact.error).__name__}: {first_line(fact.error)}): a fault of its code, not of the config; "
            f"PADDLECLAS_RDROP_TRACEBACK=1 shows where"
        ) from None
    except UnknownBlocks as fact:
        if residual_blocks(fact.net) is not None:  # a family it knows, without a block with a shortcut
            raise
        others = " or ".join(key for key, _ in randomness_fixes(fact.net, builds_with))
        raise ConfigError(
            f"RDrop.drop_path: {type(fact.net).__name__} is not a backbone drop path knows where to put; it supports "
            f"the residual blocks of {'; '.join(SUPPORTED_FAMILIES)}. Set RDrop.drop_path: 0 and use {others}"
        ) from None


class RDrop(runner.RDrop):
    """`core.runner.RDrop` whose errors name the config keys that fix them (`worded`). `builds_with`: optional
    ``(arch_key, value) -> bool``, whether the model can be built with that argument: the identical-passes
    error then offers only the ``Arch.`` keys it can."""

    def __init__(
        self,
        model: "paddle.nn.Layer",
        *args: Any,
        builds_with: Optional[Callable[[str, Any], bool]] = None,
        **kwargs: Any,
    ) -> None:
        self.builds_with = builds_with
        with worded(builds_with):
            super().__init__(model, *args, **kwargs)

    def __call__(self, images: "paddle.Tensor") -> ModelOutput:
        with worded(self.builds_with):
            return super().__call__(images)


def add_drop_path(model: "paddle.nn.Layer", rate: float, stages: Sequence[int] = drop_path.STAGES) -> DropPath:
    """`core.drop_path.add_drop_path`, its errors worded (`worded`)."""
    with worded():
        return drop_path.add_drop_path(model, rate, stages)


def add_stochastic_layers(
    model: "paddle.nn.Layer", *args: Any, **kwargs: Any
) -> List[Union[DropPath, "HookRemoveHelper"]]:
    """`core.runner.add_stochastic_layers`, its errors worded (`worded`)."""
    with worded():
        return runner.add_stochastic_layers(model, *args, **kwargs)


def identical_passes_message(fact: PassesIdentical, builds_with: Optional[Callable[[str, Any], bool]] = None) -> str:
    """The error for passes that came out identical (`PassesIdentical`): every fix of `randomness_fixes`, each
    with its usual value, and the classifier head dropout goes before."""
    fixes = randomness_fixes(fact.net, builds_with)
    own = [key for key, _ in fixes if key.startswith("Arch.")]
    active = fact.active
    if active:
        first = (
            f"its own stochastic layers ({', '.join(active[:3])}{', ...' if len(active) > 3 else ''}) made no "
            f"difference in {fact.calls} steps in a row: raise their rate, or set"
        )
    elif own:
        keys = " or ".join(own)
        first = f"has stochastic layers of its own, built at rate 0 here. Set {keys} (e.g. -o {own[0]}=0.1), or"
    else:
        first = "has no active dropout. Set"
    if ("RDrop.drop_path", 0.1) in fixes:
        first += " RDrop.drop_path (e.g. 0.1, stochastic depth in its residual blocks) or"
    if fact.head is None:
        head = "RDrop.head_dropout (e.g. 0.2) with RDrop.head_layer, the layer that gives its logits (it has no Linear)"
    else:
        head = f"RDrop.head_dropout (e.g. 0.2) with RDrop.head_layer: {fact.head} (its classifier)"
    return (
        f"R-Drop: the {fact.passes} passes gave identical outputs, so the KL term is 0 and R-Drop does nothing: "
        f"{type(fact.net).__name__} {first} {head}."
    )


def input_refused_message(fact: InputRefused) -> str:
    """The error for a model that refuses its first training batch (`InputRefused`): the size, the reason, and
    the keys that set them (`Arch.img_size` for a model built for one size)."""
    try:
        sized = "img_size" in inspect.signature(type(fact.net).__init__).parameters
    except (TypeError, ValueError):
        sized = False
    fix = (
        f"it is built for one image size: set Arch.img_size={fact.shape[-1]}, or train at the size it is built for"
        if sized
        else "train at a size it takes (Global.image_shape and the crops of DataLoader.Train.dataset.transform_ops)"
    )
    return (
        f"Arch: {type(fact.net).__name__} cannot take a batch of {fact.shape} images ({first_line(fact.error)}): {fix}"
    )
