"""All PaddleClas-specific glue: registration into a PaddleClas source tree and the R-Drop train hook.

The hook does not rewrite PaddleClas's training loop: for the length of an epoch it gives the
Engine a model that runs the k passes, a loss that sees the labels repeated k times and a train
metric that reads the first pass, then calls PaddleClas's own `train_epoch`. AMP, `update_freq`,
LR schedulers, EMA, DataParallel, logging and VisualDL are therefore PaddleClas's own code.
"""
import contextlib
import importlib
import os
import sys

from .config import check_rdrop_contract, rdrop_settings
from .errors import RDropConfigError
from .loss import RDropLoss
from .passes import RDrop, add_head_dropout

ROOT_VARIABLE = "PADDLECLAS_ROOT"


class SourceTreeNotFound(RuntimeError):
    """No PaddleClas source tree (the one with `ppcls/engine`) can be imported."""


def find_source_tree():
    """Put the PaddleClas source tree on `sys.path` (from $PADDLECLAS_ROOT if needed), or raise."""
    root = os.environ.get(ROOT_VARIABLE)
    if root:
        if not os.path.isdir(os.path.join(root, "ppcls", "engine")):
            raise SourceTreeNotFound(
                f"{ROOT_VARIABLE}={root} is not a PaddleClas source tree (no ppcls/engine in it): "
                f"point it at the root of a PaddleClas checkout")
        root = os.path.abspath(root)
        if root not in sys.path:
            sys.path.append(root)  # appended: the tree's own paddleclas.py must not hide the wheel
    try:
        importlib.import_module("ppcls.engine.engine")
    except ImportError as error:
        if getattr(error, "name", None) and not error.name.startswith("ppcls"):
            raise  # the tree was found but a dependency of it is missing: show that
        raise SourceTreeNotFound(
            f"no PaddleClas source tree found: set {ROOT_VARIABLE} to the root of a PaddleClas "
            f"checkout (the directory holding ppcls/engine); the pip wheel has no training engine"
        ) from None
    return importlib.import_module("ppcls")


def register():
    """Install `RDropLoss` into `ppcls.loss` and `train_epoch_rdrop` into `ppcls.engine.train`.

    Idempotent; changes no PaddleClas file. Raises `SourceTreeNotFound` without a source tree.
    """
    find_source_tree()
    loss_module = importlib.import_module("ppcls.loss")
    train_module = importlib.import_module("ppcls.engine.train")
    loss_module.RDropLoss = RDropLoss
    train_module.train_epoch_rdrop = train_epoch_rdrop
    return True


def prepare_engine(engine):
    """Check the R-Drop contract and prepare `engine.model` once (head dropout, k-pass runner)."""
    if getattr(engine, "_rdrop_prepared", False):
        return getattr(engine, "rdrop", None)
    config = engine.config
    check_rdrop_contract(config)
    settings = rdrop_settings(config)
    engine.rdrop = None
    if config["Global"].get("train_mode") == "rdrop":
        if engine.is_rec:
            raise RDropConfigError(
                "Global.train_mode: rdrop supports classification models; this Arch is a "
                "recognition model (Arch.Head / is_rec), which the R-Drop hook does not run")
        engine.rdrop = RDrop(engine.model, **settings)
        for loss in _loss_layers(engine.train_loss_func):
            if isinstance(loss, RDropLoss):
                loss.passes = engine.rdrop.passes
    elif settings["head_dropout"] > 0:
        add_head_dropout(engine.model, settings["head_dropout"], settings["head_layer"])
    engine._rdrop_prepared = True
    return engine.rdrop


def _loss_layers(combined):
    combined = getattr(combined, "_layers", combined)  # DataParallel
    return list(getattr(combined, "loss_func", []))


class _KPassModel:
    """Stands for `engine.model` during an R-Drop epoch: calls run the k passes."""

    def __init__(self, rdrop):
        self._rdrop = rdrop

    def __call__(self, images):
        return self._rdrop(images)

    def __getattr__(self, name):  # state_dict() for EMA, train()/eval(), ...
        return getattr(self._rdrop.model, name)


class _RepeatedLabels:
    """Stands for a loss or metric during an R-Drop epoch: labels repeated, or first pass only."""

    def __init__(self, wrapped, rdrop, first_pass_only):
        self._wrapped, self._rdrop, self._first_pass_only = wrapped, rdrop, first_pass_only

    def __call__(self, output, labels):
        if self._first_pass_only:
            return self._wrapped(self._rdrop.split_passes(output)[0], labels)
        return self._wrapped(output, self._rdrop.repeat_labels(labels))

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


@contextlib.contextmanager
def _k_pass_engine(engine, rdrop):
    saved = engine.model, engine.train_loss_func, engine.train_metric_func
    engine.model = _KPassModel(rdrop)
    engine.train_loss_func = _RepeatedLabels(saved[1], rdrop, first_pass_only=False)
    if saved[2] is not None:
        engine.train_metric_func = _RepeatedLabels(saved[2], rdrop, first_pass_only=True)
    try:
        yield
    finally:
        engine.model, engine.train_loss_func, engine.train_metric_func = saved


def train_epoch_rdrop(engine, epoch_id, print_batch_step):
    """PaddleClas's `train_epoch` with the k passes of R-Drop (selected by `train_mode: rdrop`)."""
    from ppcls.engine.train.train import train_epoch

    rdrop = prepare_engine(engine)
    with _k_pass_engine(engine, rdrop):
        train_epoch(engine, epoch_id, print_batch_step)
