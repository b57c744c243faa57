"""The lines a training run of the plugin's tools ends with, on both engines: the best val metric and its
epoch, the last epoch's (each with its balanced accuracy where this run evaluated that epoch), where the best
model is, the run's time, and the eval and export commands to run next with this run's config, overrides and
paths. The demo's summary starts with the same lines."""

import os
import re
import shlex

TITLE = "== paddleclas-rdrop: the run ended =="


def _state(folder, prefix):
    import paddle

    path = os.path.join(folder, f"{prefix}.pdstates")
    return paddle.load(path) if os.path.exists(path) else None


def metric_name(config):
    """What the best metric is: "val top-<k>" when the first Metric.Eval entry is a top-k accuracy (PaddleClas keeps
    the best model by the first metric's first value: its first `topk`, with every k at or above the class count
    already left out by `data.topk.settle_topk`), else the first metric's name."""
    from ..data.topk import DEFAULT_TOPK, TOPK_METRICS

    entries = (config.get("Metric") or {}).get("Eval") or [{}]
    name = next(iter(entries[0]), "metric")
    if name not in TOPK_METRICS:
        return f"val {name}"
    topk = (entries[0][name] or {}).get("topk", DEFAULT_TOPK)
    first = topk if isinstance(topk, int) else topk[0] if isinstance(topk, (list, tuple)) and topk else None
    return f"val top-{first}" if isinstance(first, int) else f"val {name}"


def minutes(seconds):
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{seconds:.0f} s"


def logged_balanced(out):
    """epoch -> the balanced accuracy `train.log` in the folder `out` logged for it (the newest line of an
    epoch, a resume's included), or None: what a process that did not train reads."""
    found = {}
    try:
        with open(os.path.join(out, "train.log"), encoding="utf-8", errors="replace") as log:
            for line in log:
                match = re.search(r"\[Eval\]\[Epoch (\d+)\]\[balanced accuracy: ([\d.]+)", line)
                if match:
                    found[int(match.group(1))] = float(match.group(2))
    except OSError:
        pass
    return found.get


def best_lines(config, balanced=None):
    """The best model's line (and the last epoch's), from the checkpoints in `Global.output_dir`; each with the
    balanced accuracy of its epoch where it is known: from `balanced` (epoch -> its evaluation's balanced
    accuracy or None: `evaluations.Evaluations.balanced_accuracy`), else from `train.log` (`logged_balanced`)."""
    out = config["Global"]["output_dir"]
    best, latest, what = _state(out, "best_model"), _state(out, "latest"), metric_name(config)
    logged = logged_balanced(out)
    if best is None:
        return [f"best model:  none: no evaluation ran (Global.eval_during_train); the last weights are {out}/latest"]

    def scored(metric, epoch):
        shown = f"{100 * metric:.1f} %" if what.startswith("val top-") else f"{metric:.4g}"
        beside = balanced(epoch) if balanced else None
        beside = logged(epoch) if beside is None else beside
        return f"{what} {shown}" + ("" if beside is None else f", balanced accuracy {100 * beside:.1f} %")

    where = f"{os.path.join(out, 'best_model')}.pdparams"
    lines = [f"best model:  {where} ({scored(best['metric'], best['epoch'])} at epoch {best['epoch']})"]
    if latest is not None and latest.get("epoch") != best["epoch"] and latest.get("metric"):
        lines.append(f"last epoch:  {latest['epoch']}, {scored(latest['metric'], latest['epoch'])}")
    return lines


def run_summary(config, config_path, overrides, seconds, balanced=None):
    """The end-of-run lines of a training run of `config` (read from `config_path` with the `-o` `overrides`)
    that took `seconds`; `balanced` as `best_lines` takes it. Its commands give the overrides as typed
    (`data.override_files.as_typed`: an overrides file as `$(cat <file>)`, each key once), with the weights to
    evaluate and export instead of the run's own `Global.pretrained_model` and `Global.checkpoints`."""
    from ..data.override_files import as_typed

    out = config["Global"]["output_dir"]
    weights = os.path.join(out, "best_model" if _state(out, "best_model") else "latest")
    given = as_typed(overrides, leave_out=("Global.pretrained_model", "Global.checkpoints"))
    command = f"-c {shlex.quote(config_path)}" + (f" {given}" if given else "")
    return [
        "",
        TITLE,
        *best_lines(config, balanced),
        f"run time:    {minutes(seconds)}",
        f"evaluate:    python tools/eval.py {command} -o Global.pretrained_model={weights}",
        f"export:      python tools/export_model.py {command} -o Global.pretrained_model={weights}",
    ]
