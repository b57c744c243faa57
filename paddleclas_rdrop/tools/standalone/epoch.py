"""One training epoch of the standalone engine, step for step PaddleClas's `train_epoch`, and its log lines."""

import datetime
import time

from paddleclas.ppcls.utils import logger
from paddleclas.ppcls.utils.misc import AverageMeter

from ..runs.log import lr_name


def train_epoch(engine, epoch_id, print_batch_step):
    """One epoch of the standalone engine, step for step what PaddleClas's train_epoch does, with a
    batch order that depends on the epoch alone (resumable)."""
    engine.train_dataloader.batch_sampler.set_epoch(epoch_id - 1)
    tic = time.time()
    loader = iter(engine.train_dataloader)
    for iter_id in range(engine.iter_per_epoch):
        images, labels = next(loader)
        if iter_id == 5:
            for meter in engine.time_info.values():
                meter.reset()
        engine.time_info["reader_cost"].update(time.time() - tic)
        batch_size = images.shape[0]
        engine.global_step += 1
        with engine.auto_cast(is_eval=False):
            out = engine.model(images)
            loss_dict = engine.train_loss_func(out, labels)
        loss = loss_dict["loss"] / engine.update_freq
        engine.scaler.scale(loss).backward()
        if (iter_id + 1) % engine.update_freq == 0:
            for optimizer in engine.optimizer:
                engine.scaler.step(optimizer)
                engine.scaler.update()
                optimizer.clear_grad()
            for schedule in engine.lr_sch:
                if not schedule.by_epoch:
                    schedule.step()
            if engine.ema:
                engine.model_ema.update(engine.model)
        if engine.train_metric_func is not None:
            _update_meters(engine, engine.train_metric_func(out, labels), batch_size)
        _update_meters(engine, loss_dict, batch_size)
        engine.time_info["batch_cost"].update(time.time() - tic)
        if iter_id % print_batch_step == 0:
            _log_step(engine, batch_size, epoch_id, iter_id)
        tic = time.time()
    for schedule in engine.lr_sch:
        if schedule.by_epoch:
            schedule.step()


def _update_meters(engine, values, batch_size):
    for key, value in values.items():
        engine.output_info.setdefault(key, AverageMeter(key, "7.5f")).update(float(value), batch_size)


def _log_step(engine, batch_size, epoch_id, iter_id):
    """PaddleClas's per-step line: lr, losses, metrics, costs, images/s and the ETA."""
    epochs = engine.config["Global"]["epochs"]
    batch_cost = engine.time_info["batch_cost"].avg
    remaining = (epochs - epoch_id + 1) * engine.iter_per_epoch - iter_id
    parts = [f"lr({lr_name(s)}): {s.get_lr():.8f}" for s in engine.lr_sch]
    parts += [f"{key}: {meter.avg:.5f}" for key, meter in engine.output_info.items()]
    parts += [f"{key}: {meter.avg:.5f}" for key, meter in engine.time_info.items()]
    logger.info(
        "[Train][Epoch {}/{}][Iter: {}/{}]{}, ips: {:.5f} samples/s, eta: {}".format(
            epoch_id,
            epochs,
            iter_id,
            engine.iter_per_epoch,
            ", ".join(parts),
            batch_size / max(batch_cost, 1e-12),
            datetime.timedelta(seconds=int(remaining * batch_cost)),
        )
    )
    for meter in engine.time_info.values():
        meter.reset()
    for schedule in engine.lr_sch:
        logger.scaler(f"lr({type(schedule).__name__})", schedule.get_lr(), engine.global_step, engine.vdl_writer)
    for key, meter in engine.output_info.items():
        logger.scaler(f"train_{key}", meter.avg, engine.global_step, engine.vdl_writer)
