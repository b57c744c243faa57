"""The R-Drop train step for an engine with PaddleClas's Engine attributes (PaddleClas's or ours).

It does not rewrite the training loop: for the length of an epoch it gives the engine a model
that runs the k passes, a loss that sees the labels repeated k times and a train metric that
reads the first pass, then calls the engine's own `train_epoch`. AMP, `update_freq`, LR
schedulers, EMA, DataParallel, logging and VisualDL stay the engine's own code.

The one attribute it sets on an engine is `engine.rdrop_plugin` (a `PluginState`: the k-pass
runner and the KL share of the loss), once, when the engine is prepared.
"""
import contextlib
import dataclasses
import logging
from typing import Optional

from .config import check_rdrop_contract, rdrop_settings
from ..errors import RDropConfigError
from ..passes.runner import RDrop, add_stochastic_layers


@dataclasses.dataclass
class PluginState:
    """What the plugin keeps for one engine: its k-pass runner (None for a one-pass run) and the
    KL term's share of the loss, logged per epoch."""
    rdrop: Optional[RDrop]
    kl_share: "KLShare"


def prepare_engine(engine):
    """Check the R-Drop contract and prepare `engine.model` once (stochastic layers, k-pass
    runner); returns the engine's `PluginState`."""
    if getattr(engine, "rdrop_plugin", None) is not None:
        return engine.rdrop_plugin
    check_rdrop_contract(engine.config)
    if engine.config["Global"].get("train_mode") == "rdrop" and engine.is_rec:
        raise RDropConfigError(
            "Global.train_mode: rdrop supports classification models; this Arch is a "
            "recognition model (Arch.Head / is_rec), which the R-Drop hook does not run")
    engine.rdrop_plugin = PluginState(prepare_model(engine.model, engine.config), KLShare())
    return engine.rdrop_plugin


def prepare_model(model, config):
    """The `RDrop` runner for `train_mode: rdrop`; otherwise the config's stochastic layers alone
    (drop path, head dropout: the baseline twin), and None."""
    settings = rdrop_settings(config)
    if (config.get("Global") or {}).get("train_mode") == "rdrop":
        return RDrop(model, **settings)
    settings.pop("passes"), settings.pop("strategy")
    add_stochastic_layers(model, **settings)
    return None


class _KPassModel:
    """Stands for `engine.model` during an R-Drop epoch: calls run the k passes."""

    def __init__(self, rdrop):
        self._rdrop = rdrop

    def __call__(self, images):
        return self._rdrop(images)

    def __getattr__(self, name):  # state_dict() for EMA, train()/eval(), ...
        return getattr(self._rdrop.model, name)


BARELY_ACTING = 0.01  # alpha x KL below this share of the loss for a whole epoch: warn


class KLShare:
    """The share of the training loss that R-Drop's KL term is (alpha x KL / loss), per epoch.

    A KL term that stays a tiny fraction of the loss regularises nothing (the passes barely
    differ, or alpha is too small): the epoch's log line says so once per run.
    """

    def __init__(self):
        self.shares, self.warned = [], False

    def add(self, loss_dict):
        if "RDropLoss" in loss_dict and "loss" in loss_dict:
            total = float(loss_dict["loss"])
            self.shares.append(float(loss_dict["RDropLoss"]) / total if total > 0 else 0.0)

    def log_epoch(self, epoch_id):
        if not self.shares:
            return
        logger = logging.getLogger("ppcls")  # the logger both engines' logs go to
        mean, largest = sum(self.shares) / len(self.shares), max(self.shares)
        logger.info(f"[Train][Epoch {epoch_id}][R-Drop] alpha x KL is {mean:.2%} of the training loss "
                    f"(mean over the epoch; largest step {largest:.2%})")
        if largest < BARELY_ACTING and not self.warned:
            logger.warning(
                f"R-Drop is barely acting: alpha x KL stayed below {BARELY_ACTING:.0%} of the training loss "
                f"for all of epoch {epoch_id}. Make the passes differ more (RDrop.drop_path, "
                f"RDrop.head_dropout) or raise alpha (the weight of Loss.Train.RDropLoss)")
            self.warned = True
        self.shares = []


class _RepeatedLabels:
    """Stands for a loss or metric during an R-Drop epoch: labels repeated, or first pass only."""

    def __init__(self, wrapped, rdrop, first_pass_only, kl_share=None):
        self._wrapped, self._rdrop, self._first_pass_only = wrapped, rdrop, first_pass_only
        self._kl_share = kl_share

    def __call__(self, output, labels):
        if self._first_pass_only:
            return self._wrapped(self._rdrop.split_passes(output)[0], labels)
        loss_dict = self._wrapped(output, self._rdrop.repeat_labels(labels))
        if self._kl_share is not None:
            self._kl_share.add(loss_dict)
        return loss_dict

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


@contextlib.contextmanager
def _k_pass_engine(engine, state):
    saved = engine.model, engine.train_loss_func, engine.train_metric_func
    engine.model = _KPassModel(state.rdrop)
    engine.train_loss_func = _RepeatedLabels(saved[1], state.rdrop, first_pass_only=False,
                                             kl_share=state.kl_share)
    if saved[2] is not None:
        engine.train_metric_func = _RepeatedLabels(saved[2], state.rdrop, first_pass_only=True)
    try:
        yield
    finally:
        engine.model, engine.train_loss_func, engine.train_metric_func = saved


def rdrop_epoch(engine, epoch_id, print_batch_step, train_epoch):
    """One epoch of `train_epoch(engine, ...)` with the k passes of R-Drop."""
    state = prepare_engine(engine)
    with _k_pass_engine(engine, state):
        train_epoch(engine, epoch_id, print_batch_step)
    state.kl_share.log_epoch(epoch_id)
