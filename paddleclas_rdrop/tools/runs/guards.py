"""The guards of every training run of the plugin's tools, on both engines, baseline and R-Drop
alike: each epoch reseeded from `Global.seed` (a resumed run draws what an uninterrupted one
draws), and a stop at the first non-finite value: a training loss (before the step that would spread
it), the weights (every `print_batch_step` steps, and before every save: `runs.checkpoints.Checkpointer.make_whole`), or
an evaluation loss (before the epoch's checkpoints are written).

The training loss is checked at every step, where both engines already read it to the host to log it
(PaddleClas's `update_loss`), so the check adds no device sync; the weights, a pass over every
parameter, only every `print_batch_step` steps."""

import contextlib

import paddle
import paddle.distributed as dist

from ...adapter.sections import section_of
from ...core.errors import NonFiniteLossError, TrainingStopped
from .seeds import seed_all


def seed_epoch(config, epoch_id):
    """With Global.seed, reseed every RNG at the start of epoch `epoch_id` (per process)."""
    seed = section_of(config, "Global").get("seed")
    if seed is None or seed is False:
        return
    seed_all((int(seed) + dist.get_rank()) * 100003 + epoch_id)


def check_finite(loss_dict, epoch_id, step):
    """A NaN/Inf loss term stops training with the term, the epoch and the step."""
    for name, value in loss_dict.items():
        if not bool(paddle.isfinite(value).all()):
            raise NonFiniteLossError(
                f"training stopped: {name} is {float(value)} at epoch {epoch_id}, step {step} of this "
                f"run; no weight was updated with it and the checkpoints already written are left as "
                f"they were. {FIX}"
            )


FIX = "Lower Optimizer.lr.learning_rate or alpha (the RDropLoss weight), or check the data"


def non_finite_weights(model):
    """The name of the first parameter of `model` holding a NaN or Inf, or None."""
    for name, parameter in model.named_parameters():
        if not bool(paddle.isfinite(parameter).all()):
            return name
    return None


def check_weights_finite(model, where):
    """`NonFiniteLossError` when a weight of `model` is NaN or Inf (`where`: "at epoch 3, step 40")."""
    name = non_finite_weights(model)
    if name is not None:
        raise NonFiniteLossError(
            f"training stopped: the weight {name} holds NaN or Inf {where}; no checkpoint was written with it "
            f"and the checkpoints already written are left as they were. {FIX}"
        )


def guard_evaluation(engine, stop_requested=lambda: None):
    """A non-finite evaluation loss stops training before the epoch's checkpoints (`best_model` above all)
    are written: `engine.eval_loss_func` (called on every eval batch by both engines) records it, and
    `engine.eval` raises `NonFiniteLossError` once the evaluation is done. An evaluation that fails after a stop
    was requested (`stopped_instead`) ends in the stop."""
    loss, evaluate = getattr(engine, "eval_loss_func", None), engine.eval
    if loss is None:
        return
    seen = []

    def checked_loss(*args, **kwargs):
        values = loss(*args, **kwargs)
        for name, value in values.items():
            if not seen and not bool(paddle.isfinite(value).all()):
                seen.append(f"{name} is {float(value)}")
        return values

    def checked_eval(epoch_id=0, *args, **kwargs):
        seen.clear()
        with stopped_instead(stop_requested, lambda: (epoch_id, getattr(engine, "global_step", 0))):
            acc = evaluate(epoch_id, *args, **kwargs)
        if seen:
            raise NonFiniteLossError(
                f"training stopped: the evaluation loss {seen[0]} at epoch {epoch_id}: the weights give non-finite "
                f"outputs, so nothing of this epoch was saved and the checkpoints already written are left as "
                f"they were. {FIX}"
            )
        return acc

    engine.eval_loss_func, engine.eval = checked_loss, checked_eval


def guard_training(engine, stop_requested=lambda: None):
    """Guard every epoch of a prepared `engine` (`prepare_engine`): `engine.train_epoch_func`
    (PaddleClas's attribute, which both engines call once per epoch) reseeds first, and the engine's
    `TrainLoss` checks every loss dict before it is used: a non-finite loss raises `NonFiniteLossError`,
    and when `stop_requested()` names a signal, `TrainingStopped` stops training before the step is
    applied (a safe point: checkpoints are written between epochs, never during a step)."""
    epoch_func = engine.train_epoch_func
    train_loss = engine.rdrop_plugin.loss
    epoch = {"id": 0}

    every = max(1, int((engine.config.get("Global") or {}).get("print_batch_step") or 1))

    def check(loss_dict):
        signal_name = stop_requested()
        if signal_name:
            raise TrainingStopped(signal_name, epoch["id"], engine.global_step)
        check_finite(loss_dict, epoch["id"], engine.global_step)
        if engine.global_step % every == 0:
            check_weights_finite(engine.model, f"at epoch {epoch['id']}, step {engine.global_step}")

    train_loss.check = check
    guard_evaluation(engine, stop_requested)

    def guarded_epoch(engine, epoch_id, print_batch_step):
        seed_epoch(engine.config, epoch_id)
        epoch["id"] = epoch_id
        with stopped_instead(stop_requested, lambda: (epoch["id"], engine.global_step)):
            epoch_func(engine, epoch_id, print_batch_step)

    engine.train_epoch_func = guarded_epoch


@contextlib.contextmanager
def stopped_instead(stop_requested, where):
    """Within the context, paddle's error for a data loader whose workers ended (`LOADER_ENDED`), raised after
    `stop_requested()` named a signal, is that stop's doing (the same signal ended them; `runs.signals`):
    `TrainingStopped` at `where()` (epoch, step) instead, the error as its cause. Any other error passes."""
    try:
        yield
    except (SystemError, RuntimeError) as error:
        signal_name = stop_requested()
        if signal_name is None or not any(words in str(error) for words in LOADER_ENDED):
            raise
        raise TrainingStopped(signal_name, *where()) from error


# paddle/io/dataloader/dataloader_iter.py and paddle/fluid/imperative/data_loader.cc: "DataLoader process (pid N)
# exited is killed by signal", "DataLoader N workers exit unexpectedly", "Blocking queue is killed because the data
# reader raises an exception"
LOADER_ENDED = ("DataLoader", "Blocking queue is killed")
