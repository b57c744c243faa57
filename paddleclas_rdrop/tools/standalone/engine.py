"""The standalone engine: PaddleClas's Engine interface (attributes, train/eval/export/infer,
logs, checkpoints) on Paddle and the pip wheel alone."""

import os
import time

import paddle
import paddle.distributed as dist
from paddleclas.deploy.python.postprocess import build_postprocess
from paddleclas.deploy.python.preprocess import create_operators
from paddleclas.ppcls.arch import build_model
from paddleclas.ppcls.utils import logger, save_load
from paddleclas.ppcls.utils.amp import AutoCast, build_scaler
from paddleclas.ppcls.utils.config import print_config
from paddleclas.ppcls.utils.ema import ExponentialMovingAverage
from paddleclas.ppcls.utils.misc import AverageMeter

from ...adapter.models import build
from ...adapter.mutual import MutualModel
from ...adapter.sections import section_of
from ...adapter.settings import RDropSettings
from ...adapter.train_hook import rdrop_epoch
from ...core.errors import ConfigError, DataError
from ..data.class_map import reading_class_maps
from ..data.multilabel_checks import check_multilabel
from ..data.paths import URLS
from ..runs.checkpoints import Checkpointer, carry_best, keep_of, schedule_of
from ..runs.seeds import seed_all
from .accumulation import accumulated_steps
from .classification_metrics import evaluated_output
from .data import build_dataloader
from .epoch import train_epoch
from .keys import check_top_level, take
from .losses import CombinedLoss
from .metrics import build_metrics
from .optim import build_optimizer
from .outputs import export_model, infer_images


def _checkpoint_exists(prefix, key):
    """Raise `ConfigError` if the weights `prefix` of `key` (a path without .pdparams) are not on disk; a URL is
    the downloader's (the tools check that it answers first: `tools/data/paths.check_url`)."""
    if prefix and not prefix.startswith(URLS) and not os.path.exists(prefix + ".pdparams"):
        raise ConfigError(f"{key}: {prefix}.pdparams not found (give the path without .pdparams)")


class StandaloneEngine:
    """Reads a PaddleClas config, checks every key before anything is written, then runs `mode`."""

    def __init__(self, config, mode="train", settings=None, check_model=None):
        """`settings`: the run's `RDropSettings` (parsed from `config` if not given); `check_model(model)`,
        if given, checks the model right after it is built, before anything is written (it raises
        `ConfigError`). Every step up to `_start_run` only reads and checks; that one writes."""
        assert mode in ("train", "eval", "export", "infer"), mode
        check_top_level(config)
        self.mode, self.config = mode, config
        self.checkpoints = None  # the Checkpointer train() saves through
        self._read_sections(settings)
        self._seed_and_place()
        self._build_loaders()
        self._build_losses()
        self._build_metrics()
        if self.multilabel:
            check_multilabel(config, {split: (data.list_path, data.labels) for split, data in self._datasets().items()})
        self._build_model(check_model)
        if mode == "train":
            self.optimizer, self.lr_sch = build_optimizer(
                config.get("Optimizer"),
                self.global_section["epochs"],
                self.iter_per_epoch // self.update_freq,
                self.model,
            )
        if mode == "infer":
            self._build_infer_ops()
        self._start_run()  # everything checked: from here on files are written

    def _read_sections(self, settings):
        """Global (every key checked, defaults filled in), AMP, EMA and the R-Drop settings."""
        config = self.config
        config["Global"] = type(config)(take(config.get("Global"), "Global"))
        self.global_section = config["Global"]
        self.settings = settings or RDropSettings.from_config(config)
        self.train_mode = self.global_section["train_mode"]
        if self.train_mode not in (None, "rdrop"):
            raise ConfigError(
                f"Global.train_mode: {self.train_mode!r} is not supported by the "
                f"standalone engine (rdrop, or none for a plain pass)"
            )
        if "AMP" in config:
            config["AMP"] = take(config["AMP"], "AMP")
        if "EMA" in config:
            config["EMA"] = take(config["EMA"], "EMA")
        self.is_rec = False
        self.output_dir = self.global_section["output_dir"]
        self.update_freq = self.global_section["update_freq"]
        self.multilabel = bool(self.global_section["use_multilabel"])
        self.class_num = config["Arch"].get("class_num", self.global_section["class_num"])
        config["Arch"].setdefault("class_num", self.class_num)
        _checkpoint_exists(self.global_section["pretrained_model"], "Global.pretrained_model")
        _checkpoint_exists(self.global_section["checkpoints"], "Global.checkpoints")

    def _seed_and_place(self):
        """Each process seeded from Global.seed plus its rank (42 when several run without one), on
        Global.device."""
        self.distributed = dist.get_world_size() > 1
        seed = self.global_section["seed"]
        if self.distributed and seed is None:
            seed = 42
        if seed is not None:
            seed_all(int(seed) + dist.get_rank())
        self.device = paddle.set_device(self.global_section["device"])

    def _build_loaders(self):
        """DataLoader.Train (train) and DataLoader.Eval (when the run evaluates)."""
        loaders = section_of(self.config, "DataLoader")
        if self.mode == "train":
            self.train_dataloader = build_dataloader(
                loaders.get("Train"), "DataLoader.Train", self.class_num, self.multilabel
            )
            self.iter_per_epoch, self.update_freq = accumulated_steps(len(self.train_dataloader), self.update_freq)
        self.evaluates = self.mode == "eval" or (self.mode == "train" and self.global_section["eval_during_train"])
        if self.evaluates:
            train = getattr(self, "train_dataloader", None)
            self.eval_dataloader = build_dataloader(
                loaders.get("Eval"), "DataLoader.Eval", self.class_num, self.multilabel, evaluation=True,
                train=train and (train.dataset.list_path, train.dataset.labels),
            )  # fmt: skip

    def _build_losses(self):
        """Loss.Train (train) and Loss.Eval (when the run evaluates and has one)."""
        losses = section_of(self.config, "Loss")
        unknown = sorted(set(losses) - {"Train", "Eval"})
        if unknown:
            raise ConfigError(f"Loss.{unknown[0]} is not supported (Loss.Train and Loss.Eval)")
        if self.mode == "train":
            self.train_loss_func = CombinedLoss(losses.get("Train"), "Loss.Train")
        self.eval_loss_func = (
            CombinedLoss(losses["Eval"], "Loss.Eval") if self.evaluates and losses.get("Eval") else None
        )

    def _build_metrics(self):
        """Metric.Train (train, as PaddleClas: none on Mixup/Cutmix labels) and Metric.Eval."""
        metrics = section_of(self.config, "Metric")
        self.train_metric_func = None
        mixes_labels = bool(section_of(self.config, "DataLoader", "Train", "dataset").get("batch_transform_ops"))
        if self.mode == "train" and not mixes_labels:
            self.train_metric_func = build_metrics(metrics.get("Train"), "Metric.Train")
        elif self.mode == "train":  # as PaddleClas: no train metric on Mixup/Cutmix labels; said once the log is up
            self.removed_metrics = list(metrics.get("Train") or [])
        self.eval_metric_func = build_metrics(metrics.get("Eval"), "Metric.Eval") if self.evaluates else None

    def _datasets(self):
        """{"Train" / "Eval": the dataset} of the loaders the run built."""
        loaders = {"Train": getattr(self, "train_dataloader", None), "Eval": getattr(self, "eval_dataloader", None)}
        return {split: loader.dataset for split, loader in loaders.items() if loader is not None}

    def _build_model(self, check_model):
        """Arch, built by the one builder (`adapter.models.build`) and checked by `check_model`."""
        config = self.config
        self.model = build(lambda: build_standalone_model(config, self.mode), config["Arch"].get("name"))
        if check_model is not None:
            check_model(self.model)

    def _build_infer_ops(self):
        """Infer's transforms and PostProcess (Topk by default)."""
        infer = take(self.config.get("Infer"), "Infer")
        self.preprocess_func = create_operators(infer["transforms"])
        post = dict(infer["PostProcess"] or {"name": "Topk", "topk": 1})
        name = post.pop("name")
        with reading_class_maps():  # the class map read by the plugin's reader
            self.postprocess_func = build_postprocess({"main_indicator": name, name: post})

    def _start_run(self):
        """The run's log, the printed config (train), the pretrained weights, AMP, EMA, VisualDL, the
        processes' DataParallel and the epoch function."""
        config, global_section, mode = self.config, self.global_section, self.mode
        logger.init_logger(log_file=os.path.join(self.output_dir, f"{mode}.log"), log_ranks=global_section["log_ranks"])
        for entry in getattr(self, "removed_metrics", []):
            logger.warning(
                f'Unable to calculate accuracy when using "batch_transform_ops". The metric "{entry}" has been removed.'
            )
        if mode == "train":  # the other tools do not repeat it
            print_config(config)
        if global_section["pretrained_model"]:
            save_load.load_dygraph_pretrain(self.model, global_section["pretrained_model"])
        self._init_amp()
        self.ema = "EMA" in config and mode == "train"
        if self.ema:
            self.model_ema = ExponentialMovingAverage(self.model, config["EMA"]["decay"])
        self.vdl_writer = None
        if global_section["use_visualdl"] and mode == "train" and dist.get_rank() == 0:
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
        self.checkpoints.make_whole(save_load.save_model)(
            self.model,
            self.optimizer,
            metric_info,
            self.output_dir,
            ema=ema,
            model_name=self.config["Arch"]["name"],
            prefix=prefix,
            loss=self.train_loss_func,
        )

    def train(self, checkpoints=None):
        """Train `Global.epochs` epochs (from `Global.checkpoints` on a resume), evaluating and saving as
        PaddleClas's Engine does. The checkpoints are saved through `checkpoints`, the run's
        `runs.checkpoints.Checkpointer`, which the caller closes; without one, the engine makes its own for
        this call and closes it at the end (waiting for every save; raising a `SaveError`)."""
        if checkpoints is None:
            with Checkpointer(self.output_dir, schedule_of(self.config), keep_of(self.config)) as own:
                return self.train(own)
        self.checkpoints = checkpoints
        self._train_epochs()

    def _train_epochs(self):
        global_section = self.config["Global"]
        self.output_info, self.global_step = {}, 0
        self.time_info = {
            "batch_cost": AverageMeter("batch_cost", ".5f", postfix=" s,"),
            "reader_cost": AverageMeter("reader_cost", ".5f", postfix=" s,"),
        }
        best = {"metric": -1.0, "epoch": 0}
        best_ema = -1.0
        if global_section["checkpoints"]:
            ema = self.model_ema.module if self.ema else None
            resumed = save_load.init_model(global_section, self.model, self.optimizer, self.train_loss_func, ema)
            best.update(carry_best(resumed, global_section["checkpoints"]) or {})
        for epoch_id in range(best["epoch"] + 1, global_section["epochs"] + 1):
            self.train_epoch_func(self, epoch_id, global_section["print_batch_step"])
            logger.info(
                "[Train][Epoch {}/{}][Avg]{}".format(
                    epoch_id, global_section["epochs"], ", ".join(m.avg_info for m in self.output_info.values())
                )
            )
            self.output_info.clear()
            acc = 0.0
            if (
                self.evaluates
                and epoch_id % global_section["eval_interval"] == 0
                and epoch_id > global_section["start_eval_epoch"] - 1
            ):
                acc = self._eval_keeping_the_epoch(epoch_id)
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
            if global_section["save_interval"] > 0 and epoch_id % global_section["save_interval"] == 0:
                self._save(f"epoch_{epoch_id}", {"metric": acc, "epoch": epoch_id})
            self._save("latest", {"metric": acc, "epoch": epoch_id})
        if self.vdl_writer is not None:
            self.vdl_writer.close()

    def _eval_keeping_the_epoch(self, epoch_id):
        """`self.eval(epoch_id)` in training; an image of the evaluation that cannot be read (`DataError`) stops
        the run once the epoch trained is saved (`latest`, and `epoch_<n>` on `Global.save_interval`), the error
        naming the checkpoint to resume from."""
        try:
            return self.eval(epoch_id)
        except DataError as error:
            self.model.train()
            interval = self.global_section["save_interval"]
            if interval > 0 and epoch_id % interval == 0:
                self._save(f"epoch_{epoch_id}", {"metric": 0.0, "epoch": epoch_id})
            self._save("latest", {"metric": 0.0, "epoch": epoch_id})
            latest = os.path.join(self.output_dir, "latest")
            raise DataError(
                f"{error}; epoch {epoch_id} was trained and saved in {latest}, not evaluated: once the image is "
                f"fixed, resume with -o Global.checkpoints={latest}"
            ) from None

    @paddle.no_grad()
    def eval(self, epoch_id=0):
        """Loss.Eval and Metric.Eval over DataLoader.Eval, summed over processes; returns the value the best
        model is kept on (`_kept_metric`)."""
        self.model.eval()
        sums, count = {}, 0
        if self.eval_metric_func:
            self.eval_metric_func.reset()
        steps = len(self.eval_dataloader)
        tic = time.time()
        for iter_id, (images, labels) in enumerate(self.eval_dataloader):
            with self.auto_cast(is_eval=True):
                out = evaluated_output(self.model(images))  # a DistillationModel's student, as PaddleClas's
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
        averages = self._averages(sums, count)
        if self.eval_metric_func:  # metrics over the whole evaluation (ECE is not a mean over batches)
            averages.update(self.eval_metric_func.summary(all_reduce=self.distributed))
        logger.info("[Eval][Epoch {}][Avg]{}".format(epoch_id, ", ".join(f"{k}: {v:.5f}" for k, v in averages.items())))
        self.model.train()
        return self._kept_metric(averages)

    def _averages(self, sums, count):
        """{key: sum / count} of the evaluation's per-batch sums, over every process of a distributed run (whose
        shares of the samples may differ by one, and be empty: gathered as objects, not summed as tensors of
        one shape)."""
        if self.distributed:
            gathered = []
            dist.all_gather_object(gathered, (sums, count))
            count = sum(part_count for _, part_count in gathered)
            keys = dict.fromkeys(key for part, _ in gathered for key in part)  # in the order they were logged
            sums = {key: sum(part.get(key, 0.0) for part, _ in gathered) for key in keys}
        return {key: value / count for key, value in sums.items()} if count else {}

    def _kept_metric(self, averages):
        """The evaluation's value the best model is kept on, as PaddleClas's `classification_eval`: the first
        metric's (`Metrics.main_key`: AccuracyScore, HammingDistance, ATTRMetric's mA, TprAtFpr's TPR, 0.0 where
        it found none), or top-1; else minus the loss."""
        main_key = self.eval_metric_func.main_key if self.eval_metric_func else None
        if main_key is not None:
            return averages.get(main_key, 0.0)
        metric = next((v for k, v in averages.items() if k.startswith("top")), None)
        return metric if metric is not None else -averages.get("loss", 0.0)

    def export(self):
        """`save_inference_dir/inference.{json,pdiparams}` (`outputs.export_model`)."""
        export_model(self)

    def infer(self):
        """The post-processed predictions of Infer.infer_imgs (`outputs.infer_images`)."""
        return infer_images(self)


def build_standalone_model(config, mode):
    """PaddleClas's `build_model` (the wheel's), which also knows the plugin's `MutualModel`."""
    arch = dict(config["Arch"])
    if arch.get("name") == MutualModel.__name__:
        arch.pop("name")
        return MutualModel(**arch)
    return build_model(config, mode)
