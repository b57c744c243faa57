"""The standalone engine: PaddleClas's Engine interface (attributes, train/eval/export/infer,
logs, checkpoints) on Paddle and the pip wheel alone."""

import copy
import datetime
import os
import random
import time

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn as nn
from paddleclas.deploy.python.postprocess import build_postprocess
from paddleclas.deploy.python.preprocess import create_operators
from paddleclas.ppcls.arch import build_model
from paddleclas.ppcls.utils import logger, save_load
from paddleclas.ppcls.utils.amp import AutoCast, build_scaler
from paddleclas.ppcls.utils.config import print_config
from paddleclas.ppcls.utils.ema import ExponentialMovingAverage
from paddleclas.ppcls.utils.misc import AverageMeter

from ...adapter.log import lr_name
from ...adapter.mutual import MutualModel
from ...adapter.settings import RDropSettings
from ...adapter.train_hook import rdrop_epoch
from ...core.errors import ConfigError, DataError, building
from ..data.lists import image_files
from ..runs.checkpoints import carry_best, keep_of, schedule_of, whole
from .data import build_dataloader
from .keys import AMP, GLOBAL, check_top_level, take
from .losses import CombinedLoss
from .metrics import build_metrics
from .optim import build_optimizer


def _checkpoint_exists(prefix, key):
    if prefix and not os.path.exists(prefix + ".pdparams"):
        raise ConfigError(f"{key}: {prefix}.pdparams not found (give the path without .pdparams)")


class StandaloneEngine:
    """Reads a PaddleClas config, checks every key before anything is written, then runs `mode`."""

    def __init__(self, config, mode="train", settings=None, check_model=None):
        """`settings`: the run's `RDropSettings` (parsed from `config` if not given); `check_model(model)`,
        if given, checks the model right after it is built, before anything is written (it raises
        `ConfigError`)."""
        assert mode in ("train", "eval", "export", "infer"), mode
        check_top_level(config)
        self.mode, self.config = mode, config
        config["Global"] = type(config)(take(config.get("Global"), "Global", GLOBAL))
        glob = config["Global"]
        self.settings = settings or RDropSettings.from_config(config)
        self.train_mode = glob["train_mode"]
        if self.train_mode not in (None, "rdrop"):
            raise ConfigError(
                f"Global.train_mode: {self.train_mode!r} is not supported by the "
                f"standalone engine (rdrop, or none for a plain pass)"
            )
        if "AMP" in config:
            config["AMP"] = take(config["AMP"], "AMP", AMP)
        if "EMA" in config:
            config["EMA"] = take(config["EMA"], "EMA", {"decay": 0.9999})
        self.is_rec = False
        self.output_dir = glob["output_dir"]
        self.update_freq = glob["update_freq"]
        self.class_num = config["Arch"].get("class_num", glob["class_num"])
        config["Arch"].setdefault("class_num", self.class_num)
        _checkpoint_exists(glob["pretrained_model"], "Global.pretrained_model")
        _checkpoint_exists(glob["checkpoints"], "Global.checkpoints")
        self.distributed = dist.get_world_size() > 1
        seed = glob["seed"]
        if self.distributed and seed is None:
            seed = 42
        if seed is not None:
            seed = int(seed) + dist.get_rank()
            paddle.seed(seed), np.random.seed(seed), random.seed(seed)
        self.device = paddle.set_device(glob["device"])

        loaders = config.get("DataLoader") or {}
        if mode == "train":
            self.train_dataloader = build_dataloader(loaders.get("Train"), "DataLoader.Train", self.class_num)
            self.iter_per_epoch = len(self.train_dataloader) // self.update_freq * self.update_freq
            if self.iter_per_epoch == 0:
                raise ConfigError("Global.update_freq is larger than the number of batches per epoch")
        self.evaluates = mode == "eval" or (mode == "train" and glob["eval_during_train"])
        if self.evaluates:
            self.eval_dataloader = build_dataloader(loaders.get("Eval"), "DataLoader.Eval", self.class_num)
        losses = config.get("Loss") or {}
        unknown = sorted(set(losses) - {"Train", "Eval"})
        if unknown:
            raise ConfigError(f"Loss.{unknown[0]} is not supported (Loss.Train and Loss.Eval)")
        if mode == "train":
            self.train_loss_func = CombinedLoss(losses.get("Train"), "Loss.Train")
        self.eval_loss_func = (
            CombinedLoss(losses["Eval"], "Loss.Eval") if self.evaluates and losses.get("Eval") else None
        )
        metrics = config.get("Metric") or {}
        self.train_metric_func = None
        mixes_labels = bool(((loaders.get("Train") or {}).get("dataset") or {}).get("batch_transform_ops"))
        if mode == "train" and not mixes_labels:
            self.train_metric_func = build_metrics(metrics.get("Train"), "Metric.Train")
        elif mode == "train":  # as PaddleClas: no train metric on Mixup/Cutmix labels, and a warning says so
            for entry in metrics.get("Train") or []:
                logger.warning(
                    f'Unable to calculate accuracy when using "batch_transform_ops". The metric "{entry}" has been '
                    f"removed."
                )
        self.eval_metric_func = build_metrics(metrics.get("Eval"), "Metric.Eval") if self.evaluates else None

        with building(config["Arch"].get("name")), paddle.utils.unique_name.guard():  # names as in a fresh process
            self.model = build_standalone_model(config, mode)
        if check_model is not None:
            check_model(self.model)
        if mode == "train":
            self.optimizer, self.lr_sch = build_optimizer(
                config.get("Optimizer"), glob["epochs"], self.iter_per_epoch // self.update_freq, self.model
            )
        if mode == "infer":
            infer = take(
                config.get("Infer"),
                "Infer",
                {"batch_size": 1, "PostProcess": None},
                required=("infer_imgs", "transforms"),
            )
            self.preprocess_func = create_operators(infer["transforms"])
            post = dict(infer["PostProcess"] or {"name": "Topk", "topk": 1})
            name = post.pop("name")
            self.postprocess_func = build_postprocess({"main_indicator": name, name: post})

        # everything checked: from here on files are written
        logger.init_logger(log_file=os.path.join(self.output_dir, f"{mode}.log"), log_ranks=glob["log_ranks"])
        if mode == "train":  # the other tools do not repeat it
            print_config(config)
        if glob["pretrained_model"]:
            save_load.load_dygraph_pretrain(self.model, glob["pretrained_model"])
        self._init_amp()
        self.ema = "EMA" in config and mode == "train"
        if self.ema:
            self.model_ema = ExponentialMovingAverage(self.model, config["EMA"]["decay"])
        self.vdl_writer = None
        if glob["use_visualdl"] and mode == "train" and dist.get_rank() == 0:
            from visualdl import LogWriter

            self.vdl_writer = LogWriter(logdir=self.output_dir)
        if self.distributed:
            dist.init_parallel_env()
            self.model = paddle.DataParallel(self.model)
        self.train_epoch_func = self._rdrop_epoch if self.settings.rdrop else train_epoch

    @staticmethod
    def _rdrop_epoch(engine, epoch_id, print_batch_step):
        rdrop_epoch(engine, epoch_id, print_batch_step, train_epoch)

    def _init_amp(self):
        amp = self.config.get("AMP") or {}
        use_amp = bool(amp.get("use_amp")) and self.mode != "export"
        level = amp.get("level", "O1")
        if level not in ("O1", "O2"):
            raise ConfigError(f"AMP.level must be O1 or O2, got {level!r}")
        self.auto_cast = AutoCast(
            use_amp,
            amp_level=level,
            use_promote=amp.get("use_promote", False),
            amp_eval=amp.get("use_fp16_test", False),
        )
        self.scaler = build_scaler(
            use_amp,
            scale_loss=amp.get("scale_loss", 1.0),
            use_dynamic_loss_scaling=amp.get("use_dynamic_loss_scaling", False),
        )
        if use_amp and self.mode == "train":
            self.model, self.optimizer = paddle.amp.decorate(
                models=self.model, optimizers=self.optimizer, level=level, save_dtype="float32"
            )

    def _save(self, prefix, metric_info):
        ema = self.model_ema.module if self.ema else None
        whole(save_load.save_model, schedule_of(self.config), keep_of(self.config))(
            self.model,
            self.optimizer,
            metric_info,
            self.output_dir,
            ema=ema,
            model_name=self.config["Arch"]["name"],
            prefix=prefix,
            loss=self.train_loss_func,
        )

    def train(self):
        glob = self.config["Global"]
        self.output_info, self.global_step = {}, 0
        self.time_info = {
            "batch_cost": AverageMeter("batch_cost", ".5f", postfix=" s,"),
            "reader_cost": AverageMeter("reader_cost", ".5f", postfix=" s,"),
        }
        best = {"metric": -1.0, "epoch": 0}
        best_ema = -1.0
        if glob["checkpoints"]:
            ema = self.model_ema.module if self.ema else None
            resumed = save_load.init_model(glob, self.model, self.optimizer, self.train_loss_func, ema)
            best.update(carry_best(resumed, glob["checkpoints"]) or {})
        for epoch_id in range(best["epoch"] + 1, glob["epochs"] + 1):
            self.train_epoch_func(self, epoch_id, glob["print_batch_step"])
            logger.info(
                "[Train][Epoch {}/{}][Avg]{}".format(
                    epoch_id, glob["epochs"], ", ".join(m.avg_info for m in self.output_info.values())
                )
            )
            self.output_info.clear()
            acc = 0.0
            if self.evaluates and epoch_id % glob["eval_interval"] == 0 and epoch_id > glob["start_eval_epoch"] - 1:
                acc = self.eval(epoch_id)
                if acc >= best["metric"]:
                    best = {"metric": acc, "epoch": epoch_id}
                logger.info(f"[Eval][Epoch {epoch_id}][best metric: {best['metric']}]")
                logger.scaler("eval_acc", acc, epoch_id, self.vdl_writer)
                acc_ema = -1.0
                if self.ema:
                    model, self.model = self.model, self.model_ema.module
                    acc_ema = self.eval(epoch_id)
                    self.model = model
                    best_ema = max(best_ema, acc_ema)
                    logger.info(f"[Eval][Epoch {epoch_id}][best metric ema: {best_ema}]")
                if max(acc, acc_ema) >= max(best["metric"], best_ema):
                    self._save("best_model", {"metric": max(acc, acc_ema), "epoch": epoch_id})
                self.model.train()
            if glob["save_interval"] > 0 and epoch_id % glob["save_interval"] == 0:
                self._save(f"epoch_{epoch_id}", {"metric": acc, "epoch": epoch_id})
            self._save("latest", {"metric": acc, "epoch": epoch_id})
        if self.vdl_writer is not None:
            self.vdl_writer.close()

    @paddle.no_grad()
    def eval(self, epoch_id=0):
        """Loss.Eval and Metric.Eval over DataLoader.Eval, summed over processes; returns top-1."""
        self.model.eval()
        sums, count = {}, 0
        if self.eval_metric_func:
            self.eval_metric_func.reset()
        steps = len(self.eval_dataloader)
        tic = time.time()
        for iter_id, (images, labels) in enumerate(self.eval_dataloader):
            with self.auto_cast(is_eval=True):
                out = self.model(images)
            values = dict(self.eval_loss_func(out, labels)) if self.eval_loss_func else {}
            if self.eval_metric_func:
                values.update(self.eval_metric_func(out, labels))
            size = images.shape[0]
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + float(value) * size
            count += size
            if iter_id % self.config["Global"]["print_batch_step"] == 0:
                logger.info(
                    "[Eval][Epoch {}][Iter: {}/{}]{}, batch_cost: {:.5f}s".format(
                        epoch_id,
                        iter_id,
                        steps,
                        ", ".join(f"{k}: {v / count:.5f}" for k, v in sums.items()),
                        time.time() - tic,
                    )
                )
            tic = time.time()
        if self.distributed:
            totals = paddle.to_tensor([*sums.values(), float(count)], dtype="float64")
            dist.all_reduce(totals)
            *values, count = totals.numpy().tolist()
            sums = dict(zip(sums, values))
        averages = {key: value / count for key, value in sums.items()}
        if self.eval_metric_func:  # metrics over the whole evaluation (ECE is not a mean over batches)
            averages.update(self.eval_metric_func.summary(all_reduce=self.distributed))
        logger.info("[Eval][Epoch {}][Avg]{}".format(epoch_id, ", ".join(f"{k}: {v:.5f}" for k, v in averages.items())))
        self.model.train()
        metric = next((v for k, v in averages.items() if k.startswith("top")), None)
        return metric if metric is not None else -averages.get("loss", 0.0)

    def export(self):
        """`save_inference_dir/inference.{json,pdiparams}` (softmax added), as PaddleClas's export;
        `host/export.py` adds `inference.yml` for both engines."""
        glob = self.config["Global"]
        model = copy.deepcopy(getattr(self.model, "_layers", self.model))
        model = ExportModel(model, self.config["Arch"].get("infer_add_softmax", True))
        model.eval()
        model = paddle.jit.to_static(
            model, input_spec=[paddle.static.InputSpec(shape=[None] + list(glob["image_shape"]), dtype="float32")]
        )
        save_path = os.path.join(glob["save_inference_dir"], "inference")
        paddle.jit.save(model, save_path)
        logger.info(f'Export succeeded! The inference model exported has been saved in "{save_path}".')

    @paddle.no_grad()
    def infer(self):
        """Top-k of every image in Infer.infer_imgs, with the eager model. An image that cannot be decoded is
        named in the log and left out; once the others are predicted, `DataError` names how many."""
        infer = self.config["Infer"]
        paths, skipped = image_files(infer["infer_imgs"])
        for path, why in skipped:
            logger.warning(f"skipped {path}: {why}")
        self.model.eval()
        results, failed = [], []
        batch_size = infer.get("batch_size", 1)
        for start in range(0, len(paths), batch_size):
            batch, batch_paths = [], []
            for path in paths[start : start + batch_size]:
                image = self._infer_image(path)
                if image is None:
                    failed.append(path)
                    continue
                batch.append(image)
                batch_paths.append(path)
            if not batch:
                continue
            with self.auto_cast(is_eval=True):
                out = self.model(paddle.to_tensor(np.stack(batch)))
            out = nn.functional.softmax(out["logits"] if isinstance(out, dict) else out, axis=-1)
            result = self.postprocess_func(out.numpy(), batch_paths)
            logger.info(result)
            results.extend(result)
        if failed:
            raise DataError(
                f"{len(failed)} of {len(paths)} images could not be decoded (the first: {failed[0]}); the others "
                f"were predicted"
            )
        return results

    def _infer_image(self, path):
        """The pre-processed image at `path`, or None (named in the log) when it cannot be decoded."""
        try:
            with open(path, "rb") as handle:
                image = handle.read()
            for op in self.preprocess_func:
                image = op(image)
            if image is None:
                raise ValueError("not an image cv2 can decode")
            return image
        except (OSError, ValueError, AttributeError, TypeError) as error:
            logger.error(f"cannot read image {path} ({error}): left out")
            return None


def build_standalone_model(config, mode):
    """PaddleClas's `build_model` (the wheel's), which also knows the plugin's `MutualModel`."""
    arch = dict(config["Arch"])
    if arch.get("name") == MutualModel.__name__:
        arch.pop("name")
        return MutualModel(**arch)
    return build_model(config, mode)


class ExportModel(nn.Layer):
    """The trained network in eval mode, with the softmax PaddleClas's exports end with."""

    def __init__(self, base_model, add_softmax=True):
        super().__init__()
        self.base_model = base_model
        self.add_softmax = add_softmax

    def forward(self, x):
        x = self.base_model(x)
        if isinstance(x, dict):
            x = x["logits"]
        return nn.functional.softmax(x, axis=-1) if self.add_softmax else x


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
