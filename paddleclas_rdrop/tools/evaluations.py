"""The predictions and labels of each evaluation a tool runs, recorded on either engine without a second pass, and
the per-class results made of them (`per_class`).

Both engines call their `eval_metric_func` (the `Metric.Eval` list) once per batch with the batch's outputs and
labels (PaddleClas's `classification_eval` after gathering them over the processes). While an engine's `eval`
runs in `recording_evaluations`, that name is a `Recorder`, which keeps each image's predicted class (the arg-max
of the output) and label and calls the metrics as before. After each evaluation:

- `tools/eval.py`, which first names the list it reads and its image count, prints the per-class table (on
  stdout, and into `eval.log`) and writes it to `Global.output_dir/eval_per_class.json` (`PER_CLASS_FILE`), of
  its first evaluation only: DataLoader.Eval's list (`--corruptions` then evaluates the corrupted copies, which
  `corrupted_eval` reports);
- training logs the balanced accuracy beside the epoch's metrics and keeps each epoch's per-class results for
  the end-of-run summary (`Evaluations.balanced_accuracy`), the first evaluation of an epoch (the model's own;
  with EMA, PaddleClas's Engine evaluates the averaged weights after it).

Single-label only: a multi-label config (`Global.use_multilabel`), or a run without `Metric.Eval`, is evaluated
as before, without a word about classes."""

import contextlib
import logging
import os

from ..adapter.patch import patched

PER_CLASS_FILE = "eval_per_class.json"


class Recorder:
    """`metrics` (an engine's `eval_metric_func`) that also keeps, per call, the predicted class ids [B] (the
    arg-max of the logits ``[B, C]``: a dict output read at "logits", a list at its first output) and the labels
    [B]; every other attribute is the metrics'."""

    def __init__(self, metrics):
        self._metrics, self.labels, self.predicted = metrics, [], []

    def __call__(self, preds, labels):
        logits = preds[0] if isinstance(preds, (list, tuple)) else preds
        logits = logits.get("logits") if isinstance(logits, dict) else logits
        if logits is not None and len(logits.shape) == 2:
            self.predicted.append(logits.argmax(axis=-1).numpy().reshape(-1))
            self.labels.append(labels.numpy().reshape(-1))
        return self._metrics(preds, labels)

    def __getattr__(self, name):  # called for the names this object does not have
        return getattr(self._metrics, name)

    def gathered(self, across_processes):
        """(labels [N], predicted [N]) of every call, with `across_processes` those of every process of a
        `paddle.distributed` run (a collective: every process calls it)."""
        import numpy as np

        parts = [(np.concatenate(self.labels or [[]]), np.concatenate(self.predicted or [[]]))]
        if across_processes:
            import paddle.distributed as dist

            gathered = []
            dist.all_gather_object(gathered, parts[0])
            parts = gathered
        return np.concatenate([p[0] for p in parts]).astype(int), np.concatenate([p[1] for p in parts]).astype(int)


def eval_list(config):
    """The `DataLoader.Eval` list file of `config`, or None where it names none."""
    return ((((config.get("DataLoader") or {}).get("Eval") or {}).get("dataset")) or {}).get("cls_label_path")


class Evaluations:
    """The evaluations of one tool run on `engine` (its `run_config.Run` is `run`; `say` prints a line of the
    tool's own): `eval` is the engine's, recorded (`Recorder`) and followed by its per-class results."""

    def __init__(self, engine, run, say):
        self.engine, self.run, self.say = engine, run, say
        self.original = engine.eval
        self.by_epoch = {}  # epoch -> PerClass, the first evaluation of each epoch
        self.evaluated = False  # whether an evaluation was recorded

    def balanced_accuracy(self, epoch):
        """The balanced accuracy of `epoch`'s evaluation in this run, or None where it had none."""
        result = self.by_epoch.get(epoch)
        return None if result is None else result.balanced_accuracy

    def eval(self, epoch_id=0):
        metrics = self.engine.eval_metric_func
        if metrics is None or (self.run.mode == "eval" and self.evaluated):
            return self.original(epoch_id)
        self.evaluated = True
        if self.run.mode == "eval":
            dataset = getattr(getattr(self.engine, "eval_dataloader", None), "dataset", None)
            count = f": {len(dataset)} images" if dataset is not None else ""
            self.say(f"evaluating {eval_list(self.run.config)}{count}")
        recorder = Recorder(metrics)
        with patched(self.engine, eval_metric_func=recorder):
            value = self.original(epoch_id)
        self.report(recorder, epoch_id)
        return value

    def report(self, recorder, epoch_id):
        """The per-class results of the evaluation `recorder` saw, said on the first process (see the module)."""
        import paddle.distributed as dist

        from .data.class_map import config_class_map
        from .data.topk import class_count
        from .per_class import per_class, per_class_lines, write_per_class

        # PaddleClas's evaluation gathers the outputs of every process; the standalone engine's does not
        labels, predicted = recorder.gathered(not self.run.on_tree and dist.get_world_size() > 1)
        if dist.get_rank() != 0 or not len(labels):
            return
        config = self.run.config
        result = per_class(labels, predicted, class_count(config), config_class_map(config))
        logger = logging.getLogger("ppcls")
        if self.run.mode != "eval":
            self.by_epoch.setdefault(epoch_id, result)
            logger.info(
                f"[Eval][Epoch {epoch_id}][balanced accuracy: {result.balanced_accuracy:.5f}, the mean of the "
                "per-class recalls]"
            )
            return
        listed = eval_list(config)
        logger.info("\n".join(per_class_lines(result, f"{listed} ({result.images} images)")))
        path = os.path.join(config["Global"]["output_dir"], PER_CLASS_FILE)
        write_per_class(path, result, listed)
        self.say(f"per-class results also in {path}")


@contextlib.contextmanager
def recording_evaluations(engine, run, say):
    """Within the context, `engine.eval` (both engines' evaluation, in `tools/eval.py` and in training) is an
    `Evaluations`' (the module says what it adds); yields that `Evaluations`, or None for a multi-label run or a
    tool that does not evaluate. The engine's own `eval` is put back on leaving."""
    multilabel = bool((run.config.get("Global") or {}).get("use_multilabel"))
    if run.mode not in ("train", "eval") or multilabel:
        yield None
        return
    evaluations = Evaluations(engine, run, say)
    with patched(engine, eval=evaluations.eval):
        yield evaluations
