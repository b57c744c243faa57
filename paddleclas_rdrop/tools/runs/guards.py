"""The guards of every training run of the plugin's tools, on both engines, baseline and R-Drop
alike: each epoch reseeded from `Global.seed` (a resumed run draws what an uninterrupted one
draws), and a stop at the first non-finite loss, before the step that would spread it."""

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
                f"they were. Lower Optimizer.lr or alpha (the RDropLoss weight), or check the data"
            )


def guard_training(engine, stop_requested=lambda: None):
    """Guard every epoch of a prepared `engine` (`prepare_engine`): `engine.train_epoch_func`
    (PaddleClas's attribute, which both engines call once per epoch) reseeds first, and the engine's
    `TrainLoss` checks every loss dict before it is used: a non-finite loss raises `NonFiniteLossError`,
    and when `stop_requested()` names a signal, `TrainingStopped` stops training before the step is
    applied (a safe point: checkpoints are written between epochs, never during a step)."""
    epoch_func = engine.train_epoch_func
    train_loss = engine.rdrop_plugin.loss
    epoch = {"id": 0}

    def check(loss_dict):
        signal_name = stop_requested()
        if signal_name:
            raise TrainingStopped(signal_name, epoch["id"], engine.global_step)
        check_finite(loss_dict, epoch["id"], engine.global_step)

    train_loss.check = check

    def guarded_epoch(engine, epoch_id, print_batch_step):
        seed_epoch(engine.config, epoch_id)
        epoch["id"] = epoch_id
        epoch_func(engine, epoch_id, print_batch_step)

    engine.train_epoch_func = guarded_epoch
