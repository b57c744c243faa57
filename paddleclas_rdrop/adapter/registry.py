"""Registration into a PaddleClas source tree: `RDropLoss` and the `rdrop` train mode, the mutual-learning
`MutualModel` / `MutualKLLoss` / `MutualTopkAcc`, and for imbalanced classes `ClassWeightedCELoss` and
`ClassBalancedSampler`; finding that tree."""

import importlib
import os
import sys
from typing import Any

from ..core.calibration import Calibration
from ..core.class_weighted_ce import ClassWeightedCELoss
from ..core.errors import ConfigError
from ..core.label_calibration import LabelCalibration
from ..core.loss import RDropLoss
from .balanced_sampler import ClassBalancedSampler
from .mutual import MutualKLLoss, MutualModel, MutualTopkAcc
from .train_hook import rdrop_epoch

ROOT_VARIABLE = "PADDLECLAS_ROOT"


class SourceTreeNotFound(RuntimeError):
    """No PaddleClas source tree (the one with `ppcls/engine`) can be imported."""


def find_source_tree() -> str:
    """Put the PaddleClas source tree on `sys.path` (from $PADDLECLAS_ROOT if needed) and return
    its root; `SourceTreeNotFound` if there is none, `ConfigError` if $PADDLECLAS_ROOT is wrong."""
    root = os.environ.get(ROOT_VARIABLE)
    if root:
        if not os.path.isdir(os.path.join(root, "ppcls", "engine")):
            raise ConfigError(
                f"{ROOT_VARIABLE}={root} is not a PaddleClas source tree (no ppcls/engine in it): "
                f"point it at the root of a PaddleClas checkout"
            )
        root = os.path.abspath(root)
        if root not in sys.path:
            sys.path.append(root)  # appended: the tree's own paddleclas.py must not hide the wheel
    try:
        importlib.import_module("ppcls.engine.engine")
    except ImportError as error:
        if error.name and not error.name.startswith("ppcls"):
            raise  # the tree was found but a dependency of it is missing: show that
        raise SourceTreeNotFound(
            f"no PaddleClas source tree found (to use PaddleClas's own Engine, set {ROOT_VARIABLE} "
            f"to the root of a PaddleClas checkout: the pip wheel has no training engine)"
        ) from None
    # a ppcls without __init__.py (a namespace package) has no __file__: a TypeError here, not SourceTreeNotFound
    return os.path.dirname(os.path.dirname(importlib.import_module("ppcls").__file__))  # type: ignore[type-var,return-value]


def register() -> str:
    """Install `RDropLoss`, `MutualKLLoss` and `ClassWeightedCELoss` into `ppcls.loss`, `MutualTopkAcc` into
    `ppcls.metric`, `MutualModel` (building its networks from `ppcls.arch`) into `ppcls.arch`,
    `ClassBalancedSampler` into `ppcls.data` (whose `build_dataloader` finds a sampler by its name there), and
    `train_epoch_rdrop` into `ppcls.engine.train`.

    Idempotent; changes no PaddleClas file; refuses to replace a name that another object
    holds. Returns the tree's root; raises `SourceTreeNotFound` without a source tree.
    """
    root = find_source_tree()
    _default_cpu_device_id()
    loss_module = importlib.import_module("ppcls.loss")
    arch_module = importlib.import_module("ppcls.arch")
    _install(loss_module, "RDropLoss", RDropLoss)
    _install(loss_module, "MutualKLLoss", MutualKLLoss)
    _install(loss_module, "ClassWeightedCELoss", ClassWeightedCELoss)
    _install(importlib.import_module("ppcls.data"), "ClassBalancedSampler", ClassBalancedSampler)
    _install(importlib.import_module("ppcls.metric"), "MutualTopkAcc", MutualTopkAcc)
    _install(importlib.import_module("ppcls.metric"), "Calibration", Calibration)
    _install(importlib.import_module("ppcls.metric"), "LabelCalibration", LabelCalibration)
    host_mutual_model = getattr(arch_module, "MutualModel", None)
    if not _is_ours(host_mutual_model, MutualModel):
        host_mutual_model = type("MutualModel", (MutualModel,), {"arch_module": "ppcls.arch"})
    _install(arch_module, "MutualModel", host_mutual_model)
    _install(importlib.import_module("ppcls.engine.train"), "train_epoch_rdrop", train_epoch_rdrop)
    return root


def one_line_errors() -> None:
    """In a process of PaddleClas's own tools (and so under PaddleX, which runs them), which the autoload
    hook registers the plugin into: an uncaught `RDropError` (a wrong R-Drop key found when training
    starts) is printed as one line `error: <message>` on stderr with exit code 1, as the plugin's tools
    do, instead of a traceback. Any other exception keeps Python's traceback.

    Process-wide: it replaces `sys.excepthook` with a function that calls the previous one for anything
    else; idempotent; `sys.excepthook = sys.__excepthook__` undoes it. `PADDLECLAS_RDROP_TRACEBACK=1`
    keeps Python's traceback for the plugin's errors too (to report a bug in the plugin)."""
    import os
    import sys

    if os.environ.get("PADDLECLAS_RDROP_TRACEBACK") == "1":
        return

    from ..core.errors import RDropError

    previous = sys.excepthook
    if getattr(previous, "reports_rdrop_errors", False):
        return

    def hook(kind, error, traceback):
        if isinstance(error, RDropError):
            print(f"error: {error}", file=sys.stderr, flush=True)  # the process exits with 1 after the hook
            return
        previous(kind, error, traceback)

    hook.reports_rdrop_errors = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _is_ours(existing, ours):
    return existing is ours or (isinstance(existing, type) and isinstance(ours, type) and issubclass(existing, ours))


def _install(module, name, ours):
    """`module.name = ours`, unless another object than the plugin's holds that name already."""
    existing = getattr(module, name, None)
    if existing is not None and not _is_ours(existing, ours):
        raise ConfigError(
            f"{module.__name__}.{name} is already {getattr(existing, '__module__', '?')}.{name}, not "
            f"paddleclas-rdrop's, which will not replace it: rename or remove the other one (or, to run "
            f"PaddleClas without the plugin, set PADDLECLAS_RDROP_AUTOLOAD=0)"
        )
    setattr(module, name, ours)


def _default_cpu_device_id():
    """The one change the plugin makes to Paddle itself, and only where it is needed: a multi-process
    run (`paddle.distributed.launch`) on a CPU-only Paddle build.

    Why: PaddleClas's distributed evaluation reads `ParallelEnv().device_id`, which a CPU-only build
    never sets (`AttributeError: 'ParallelEnv' object has no attribute '_device_id'` when evaluating
    under `paddle.distributed.launch`). What: a class-level default `_device_id = 0`. It is not
    undone (it lasts for the process), and nothing else sees it: an instance that sets its own
    device id (every device build) overrides it, and a build that has the attribute is left alone.
    `del paddle.distributed.ParallelEnv._device_id` undoes it.
    """
    import paddle
    import paddle.distributed

    if paddle.distributed.get_world_size() < 2 or paddle.is_compiled_with_cuda():
        return
    if hasattr(paddle.distributed.ParallelEnv, "_device_id"):
        return
    paddle.distributed.ParallelEnv._device_id = 0


def train_epoch_rdrop(engine: Any, epoch_id: int, print_batch_step: int) -> None:
    """PaddleClas's `train_epoch` with the k passes of R-Drop (selected by `train_mode: rdrop`)."""
    from ppcls.engine.train.train import train_epoch

    rdrop_epoch(engine, epoch_id, print_batch_step, train_epoch)
