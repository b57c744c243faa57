"""The R-Drop train step for an engine with PaddleClas's Engine attributes (PaddleClas's or ours).

It does not rewrite the training loop: for the length of an epoch it gives the engine a model
that runs the k passes, then calls the engine's own `train_epoch`. AMP, `update_freq`, LR
schedulers, EMA, DataParallel, logging and VisualDL stay the engine's own code.

What it changes on an engine, once, when the engine is prepared (`prepare_engine`):
- `engine.rdrop_plugin`: the run's `PluginState` (settings, k-pass runner, train loss);
- `engine.train_loss_func`: a `TrainLoss` around the engine's loss (labels repeated for the k
  passes, the KL share of the loss watched, the guards' finite-loss check);
- `engine.train_metric_func` with k passes: the same metric on the first pass;
- the stochastic layers of the model, through hooks (no parameter renamed);
- with `RDrop.augment_per_pass`, the train dataset's transform ops (`PassViews`), and for a baseline
  twin `engine.train_epoch_func` (its epochs run the k passes too);
- with `RDrop.alpha_warmup_epochs`, the RDropLoss entry's weight in the engine's loss, step by step.
"""

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..core.calibration import Calibration
from ..core.errors import ConfigError
from ..core.loss import ModelOutput, RDropLoss
from ..core.models import unwrap
from .distillation import k_pass_networks, student_of
from .models import builds_with, randomness_fixes
from .patch import patched
from .runner import RDrop, add_stochastic_layers
from .settings import RDropSettings
from .views import augment_per_pass

if TYPE_CHECKING:
    import paddle

KL_OF = {  # the line each training run logs, `R-Drop KL: <distribution> (...)`
    "softmax": "(one softmax over the classes: Global.use_multilabel is not True)",
    "bernoulli": "(a sigmoid per label, targets of -1 not compared: Global.use_multilabel is True)",
}
BARELY_ACTING = 0.01  # alpha x KL below this share of the loss for a whole epoch: warn


def percent(share: float) -> str:
    """`share` (a fraction) as a percentage with two decimals, or two significant digits below 0.01 %, so that a
    KL term below the step log's 5 decimals still shows (`3.2e-07%`)."""
    return f"{share:.2%}" if share == 0 or abs(share) >= 1e-4 else f"{share * 100:.2g}%"


class KLShare:
    """The share of the training loss that R-Drop's KL term is (alpha x KL / loss), per epoch.

    A KL term that stays a tiny fraction of the loss regularises nothing (the passes barely
    differ, or alpha is too small): the epoch's log line says so once per run.
    """

    shares: List[float]

    def __init__(self, fixes: Callable[[], Sequence[str]] = lambda: ("RDrop.drop_path", "RDrop.head_dropout")) -> None:
        self.shares, self.warned = [], False
        # () -> the keys that make this model's passes differ more (`adapter.models.randomness_fixes`), asked
        # only for the warning: learning them can build the backbone again with each of its rate arguments
        self.fixes = fixes

    def add(self, loss_dict: Mapping[str, Any]) -> None:
        if "RDropLoss" in loss_dict and "loss" in loss_dict:
            total = float(loss_dict["loss"])
            self.shares.append(float(loss_dict["RDropLoss"]) / total if total > 0 else 0.0)

    def log_epoch(
        self, epoch_id: int, warmup: Optional["AlphaWarmup"] = None, alpha: Optional[float] = None, writer: Any = None
    ) -> None:
        """One line for the epoch; with `warmup` (an `AlphaWarmup`), alpha at the epoch's end too, and no
        barely-acting warning while alpha is still rising. With `writer` (the engine's VisualDL
        `LogWriter`), the scalars `rdrop_kl_share` and `rdrop_alpha` (`alpha` without a warm-up) at step
        `epoch_id`."""
        if not self.shares:
            return
        logger = logging.getLogger("ppcls")  # the logger both engines' logs go to
        mean, largest = sum(self.shares) / len(self.shares), max(self.shares)
        if writer is not None:
            writer.add_scalar(tag="rdrop_kl_share", value=mean, step=epoch_id)
            writer.add_scalar(tag="rdrop_alpha", value=warmup.value if warmup else alpha, step=epoch_id)
        ramp = (
            f"alpha {warmup.value:.4g} of {warmup.alpha:g} (warm-up over {warmup.epochs:g} epochs); " if warmup else ""
        )
        logger.info(
            f"[Train][Epoch {epoch_id}][R-Drop] {ramp}alpha x KL is {percent(mean)} of the training loss "
            f"(mean over the epoch; largest step {percent(largest)})"
        )
        warming = warmup is not None and warmup.value < warmup.alpha
        if largest < BARELY_ACTING and not self.warned and not warming:
            logger.warning(
                f"R-Drop is barely acting: alpha x KL stayed below {BARELY_ACTING:.0%} of the training loss "
                f"for all of epoch {epoch_id}. Make the passes differ more (raise {' or '.join(self.fixes())}) "
                f"or raise alpha (the weight of Loss.Train.RDropLoss)"
            )
            self.warned = True
        self.shares = []


class AlphaWarmup:
    """Alpha, the weight of the `RDropLoss` entry (``weights[index]`` of PaddleClas's `CombinedLoss`),
    rising linearly from 0 to `alpha` over `epochs` epochs, step by step: at step i of n of epoch e
    (from 1) it is ``alpha * min(1, (e - 1 + i / n) / epochs)``. It depends on the epoch and the step
    alone, so a run resumed mid-warm-up continues the ramp where it was."""

    def __init__(self, weights: List[float], index: int, alpha: float, epochs: float) -> None:
        self.weights, self.index, self.alpha, self.epochs = weights, index, alpha, epochs
        self.epoch, self.steps, self.step, self.value = 1, 1, 0, 0.0

    def start_epoch(self, epoch_id: int, steps: int) -> None:
        self.epoch, self.steps, self.step = epoch_id, max(1, steps), 0

    def __call__(self) -> None:
        """Set the weight for the next step."""
        progress = (self.epoch - 1 + self.step / self.steps) / self.epochs
        self.value = self.alpha * min(1.0, progress)
        self.weights[self.index] = self.value
        self.step += 1


class TrainLoss:
    """The one stand-in for the engine's train loss (PaddleClas's `CombinedLoss`): with R-Drop it
    gives the loss the labels repeated for the k stacked passes and records the KL share; `check`,
    when set (the tools' guards), sees every loss dict before it is used."""

    def __init__(
        self, loss: "paddle.nn.Layer", rdrop: Optional[RDrop] = None, warmup: Optional[AlphaWarmup] = None
    ) -> None:
        self.loss, self.rdrop, self.warmup = loss, rdrop, warmup
        self.kl_share = KLShare()
        self.check: Optional[Callable[[dict], None]] = None

    def __call__(self, output: ModelOutput, labels: "paddle.Tensor") -> Dict[str, "paddle.Tensor"]:
        if self.warmup is not None:
            self.warmup()
        if self.rdrop is not None:
            labels = self.rdrop.repeat_labels(labels)
        loss_dict = self.loss(output, labels)
        self.kl_share.add(loss_dict)
        if self.check is not None:
            self.check(loss_dict)
        return loss_dict

    def __getattr__(self, name: str) -> Any:  # state_dict() for checkpoints, loss_func, ...
        return getattr(self.loss, name)


class _FirstPassMetric:
    """The engine's train metric on the first of the k stacked passes."""

    def __init__(self, metric, rdrop):
        self.metric, self.rdrop = metric, rdrop

    def __call__(self, output, labels):
        return self.metric(self.rdrop.split_passes(output)[0], labels)

    def __getattr__(self, name):
        return getattr(self.metric, name)


@dataclasses.dataclass
class PluginState:
    """What the plugin keeps for one engine: the run's settings, its k-pass runner (None for a
    one-pass run) and the train loss it gave the engine."""

    settings: RDropSettings
    rdrop: Optional[RDrop]
    loss: TrainLoss


def prepare_engine(
    engine: Any, settings: Optional[RDropSettings] = None, prepared: Optional["PreparedModel"] = None
) -> PluginState:
    """Prepare `engine` once: the model's stochastic layers and k-pass runner, `TrainLoss`, and k for
    every `RDropLoss` of the engine's loss. `settings`: the run's `RDropSettings` (the tools parse
    them before building the engine, and write `RDrop.alpha` into the config the engine builds its loss
    from); None parses `engine.config` here, which is how PaddleClas's own tools reach it (at the first
    epoch), and then `RDrop.alpha` is written into the built loss. `prepared`: the `PreparedModel` of the
    tools' check of `engine.model`, taken over instead of preparing the model again. Returns the engine's
    `PluginState`; raises `ConfigError`."""
    if getattr(engine, "rdrop_plugin", None) is not None:
        return engine.rdrop_plugin
    alpha_written = settings is not None
    if settings is None:
        settings = RDropSettings.from_config(engine.config)
    if settings.rdrop and engine.is_rec:
        raise ConfigError(
            "Global.train_mode: rdrop supports classification models; this Arch is a "
            "recognition model (Arch.Head / is_rec), which the R-Drop hook does not run"
        )
    rdrop = _runner(engine, settings, prepared)
    warmup = None if rdrop is None else _prepare_losses(engine, settings, rdrop, alpha_written)
    if settings.augment_per_pass:
        augment_per_pass(engine.train_dataloader.dataset, settings.passes)
    if rdrop is not None and not settings.rdrop:  # a baseline twin with k views: its epochs run k passes too
        epoch_func = engine.train_epoch_func
        engine.train_epoch_func = lambda engine, epoch_id, step: rdrop_epoch(engine, epoch_id, step, epoch_func)
    engine.train_loss_func = TrainLoss(engine.train_loss_func, rdrop, warmup)
    if rdrop is not None:
        engine.train_loss_func.kl_share.fixes = lambda: tuple(
            key for key, _ in randomness_fixes(unwrap(rdrop.model), rdrop.builds_with)
        )
    engine.rdrop_plugin = PluginState(settings, rdrop, engine.train_loss_func)
    write_eval_calibration(engine)
    return engine.rdrop_plugin


def _runner(engine: Any, settings: RDropSettings, prepared: Optional["PreparedModel"]) -> Optional[RDrop]:
    """The k-pass runner of `engine`'s model: the one `prepared` made of it, else made here (`prepare_model`)."""
    if prepared is None or prepared.net is not unwrap(engine.model):
        return prepare_model(engine.model, settings, engine.config.get("Arch"))
    rdrop = prepared.rdrop
    if rdrop is not None and unwrap(rdrop.model) is prepared.net:
        rdrop.model = engine.model  # the engine's wrapper (DataParallel) where it has one
    return rdrop


def _prepare_losses(engine: Any, settings: RDropSettings, rdrop: RDrop, alpha_written: bool) -> Optional["AlphaWarmup"]:
    """k, the distribution and (unless `alpha_written`) alpha for every `RDropLoss` of `engine`'s train loss, and
    its train metric on the first pass; returns alpha's warm-up, if any. Raises `ConfigError`."""
    kl_losses = [
        layer for layer in [engine.train_loss_func, *engine.train_loss_func.sublayers()] if isinstance(layer, RDropLoss)
    ]
    if settings.rdrop and not kl_losses:
        raise ConfigError(
            "Global.train_mode is rdrop but the engine's train loss has no RDropLoss to give "
            "RDrop.passes: add `- RDropLoss: {weight: 0.6}` to Loss.Train"
        )
    for layer in kl_losses:
        layer.set_passes(settings.passes)
        layer.set_distribution(settings.distribution)
    if settings.rdrop:
        logging.getLogger("ppcls").info(f"R-Drop KL: {settings.distribution} {KL_OF[settings.distribution]}")
    if settings.alpha_from_section and not alpha_written:  # PaddleClas's own tools built the loss
        _set_alpha(engine.train_loss_func, settings.alpha)
    if engine.train_metric_func is not None:
        engine.train_metric_func = _FirstPassMetric(engine.train_metric_func, rdrop)
    if settings.rdrop and settings.alpha_warmup_epochs > 0:
        return _alpha_warmup(engine.train_loss_func, settings)
    return None


def _set_alpha(loss, alpha):
    """The weight of the `RDropLoss` entries of PaddleClas's `CombinedLoss` `loss`, set to `alpha`."""
    entries = list(getattr(loss, "loss_func", []))
    for index, layer in enumerate(entries):
        if isinstance(layer, RDropLoss) and hasattr(loss, "loss_weight"):
            loss.loss_weight[index] = alpha


def _alpha_warmup(loss, settings):
    """The `AlphaWarmup` of the `RDropLoss` entry of PaddleClas's `CombinedLoss` `loss`."""
    entries = list(getattr(loss, "loss_func", []))
    index = next((i for i, layer in enumerate(entries) if isinstance(layer, RDropLoss)), None)
    if index is None or not hasattr(loss, "loss_weight"):
        raise ConfigError("RDrop.alpha_warmup_epochs: the engine's loss has no RDropLoss entry with a weight to ramp")
    return AlphaWarmup(loss.loss_weight, index, settings.alpha, settings.alpha_warmup_epochs)


def prepare_model(
    model: "paddle.nn.Layer", settings: RDropSettings, arch: Optional[Mapping[str, Any]] = None
) -> Optional[RDrop]:
    """The `RDrop` runner on `model` (on its network `settings.model_name`, for a `DistillationModel`) for
    R-Drop settings (or a baseline twin with k views per sample); otherwise the settings' stochastic layers
    alone (drop path, head dropout: the baseline twin), and None. `arch`: the config's `Arch` section, which
    lets the identical-passes error offer only the `Arch.` keys the model can be built with. Raises
    `ConfigError`."""
    if settings.runs_k_passes:
        net = model if settings.model_name is None else student_of(unwrap(model), settings.model_name)
        return RDrop(net, **settings.runner_kwargs(), builds_with=builds_with(arch) if arch else None)
    add_stochastic_layers(model, **settings.layer_kwargs())
    return None


@dataclasses.dataclass(frozen=True)
class PreparedModel:
    """A model prepared for a run's settings before its engine was built (`check_model`): the network (`net`,
    unwrapped) and its k-pass runner (None for a one-pass run, whose stochastic layers are in `net`)."""

    net: object
    rdrop: Optional[RDrop]


def check_model(
    model: "paddle.nn.Layer", settings: RDropSettings, arch: Optional[Mapping[str, Any]] = None
) -> PreparedModel:
    """Prepare `model` for `settings` (`prepare_model`), raising the `ConfigError` that preparing it would raise
    before the engine writes anything; the `PreparedModel` returned is what `prepare_engine` takes over, so
    that the runner and the layers are made once. `arch`: as for `prepare_model`."""
    return PreparedModel(unwrap(model), prepare_model(model, settings, arch))


class _KPassModel:
    """Stands for `engine.model` (`model`) during an R-Drop epoch: calls run the k passes (of the network
    `model_name` alone for a `DistillationModel`: `distillation.k_pass_networks`)."""

    def __init__(self, model, rdrop, model_name=None):
        self._model, self._rdrop, self._model_name = model, rdrop, model_name

    def __call__(self, images):
        if self._model_name is None:
            return self._rdrop(images)
        net = unwrap(self._model)  # called through the engine's model, so that DataParallel syncs the gradients
        with patched(net, forward=lambda x: k_pass_networks(net, self._model_name, self._rdrop, x)):
            return self._model(images)

    def __getattr__(self, name):  # state_dict() for EMA, train()/eval(), ...
        return getattr(self._model, name)


def rdrop_epoch(
    engine: Any, epoch_id: int, print_batch_step: int, train_epoch: Callable[[Any, int, int], None]
) -> None:
    """One epoch of `train_epoch(engine, ...)` (the engine's own) with the k passes of R-Drop."""
    state = prepare_engine(engine)
    if state.loss.warmup is not None:
        state.loss.warmup.start_epoch(epoch_id, engine.iter_per_epoch)
    with patched(engine, model=_KPassModel(engine.model, state.rdrop, state.settings.model_name)):
        train_epoch(engine, epoch_id, print_batch_step)
    writer = getattr(engine, "vdl_writer", None)
    state.loss.kl_share.log_epoch(epoch_id, state.loss.warmup, state.settings.alpha, writer)


def calibration_metrics(metrics: Any) -> List[Calibration]:
    """The `Calibration` metrics among an engine's eval metrics (PaddleClas's `CombinedMetrics` keeps them
    in `metric_func_list`, the standalone engine's `Metrics` in `metrics`)."""
    found = getattr(metrics, "metric_func_list", None) or getattr(metrics, "metrics", None) or []
    return [metric for metric in found if isinstance(metric, Calibration)]


def write_eval_calibration(engine: Any) -> None:
    """With VisualDL on (`engine.vdl_writer`) and a `Calibration` in Metric.Eval, each evaluation during
    training also writes the scalars `eval_NLL` and `eval_ECE` at the epoch, beside PaddleClas's
    `eval_acc`: `engine.eval` is wrapped on this engine (an instance attribute; the class is untouched)."""
    writer, evaluate = getattr(engine, "vdl_writer", None), engine.eval
    if writer is None or not calibration_metrics(engine.eval_metric_func):
        return

    def eval_and_write(epoch_id=0, *args, **kwargs):
        acc = evaluate(epoch_id, *args, **kwargs)
        for metric in calibration_metrics(engine.eval_metric_func):
            for key, value in metric.summary().items():
                writer.add_scalar(tag=f"eval_{key}", value=value, step=epoch_id)
        return acc

    engine.eval = eval_and_write
