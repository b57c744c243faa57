"""`tools/eval.py --corruptions [FOLDER]`: one model evaluated on DataLoader.Eval's list, then on each of its
corrupted copies (`data.corrupted_copies` of `data.corruptions`: ImageNet-C's corruptions at severities 1-5, made
once into FOLDER, default `<Global.output_dir>/corruptions`, and reused). The engine is built once; each copy is
evaluated by the engine's own `eval()` on a loader built from DataLoader.Eval with the copy's list and folder, on
either engine.

Single-label runs are read from the `Calibration` metric (added to Metric.Eval when it is not there): top-1
and ECE (Guo et al. 2017) in [0, 1], NLL in nats. Multi-label runs from `LabelCalibration`: mAP, mA, mean BCE
(`nll`) and the per-label ECE. The values go to `<Global.output_dir>/corruptions.json` (`write_results`) and
one line per corruption to stdout.
"""

import contextlib
import copy
import json
import logging
import os

import numpy as np

from ..adapter.patch import patched
from ..core.errors import ConfigError, DataError, first_line
from ..core.files import write_text
from .data.lists import dataset_lists, read_list_file
from .data.multilabel_checks import check_positives

RESULTS = "corruptions.json"
FILE_SUFFIXES = (".json", ".log", ".txt", ".csv", ".yaml", ".yml", ".png", ".pdparams", ".pdopt")  # files, not a FOLDER


def metric_name(config):
    """The metric the copies are read from: `LabelCalibration` for `Global.use_multilabel`, else `Calibration`."""
    return "LabelCalibration" if (config.get("Global") or {}).get("use_multilabel") else "Calibration"


def copies_folder(output_dir, corruptions):
    """Where the copies are: the folder given to --corruptions, or `<output_dir>/corruptions` ("" given)."""
    return os.path.abspath(corruptions or os.path.join(output_dir, "corruptions"))


def prepare(config, corruptions, processes=1):
    """Check that `config` can be evaluated on corrupted copies in `copies_folder` and add `metric_name`'s
    metric to Metric.Eval where it is not there. Raises `ConfigError`: several processes, an Eval dataset whose
    list the copies cannot be made of (not an ImageNetDataset or MultiLabelDataset list), or a folder that
    cannot take the copies (`data.corrupted_copies.check_folder`). Nothing is written."""
    from .data.corrupted_copies import check_folder

    output_dir = config["Global"].get("output_dir") or "./output/"
    folder = copies_folder(output_dir, corruptions)
    if os.path.dirname(folder) == os.path.abspath(output_dir) and os.path.splitext(folder)[1] in FILE_SUFFIXES:
        raise ConfigError(
            f"--corruptions {folder} is named as a file in Global.output_dir, where eval.py writes {RESULTS}, "
            f"eval_per_class.json and its log: give a folder"
        )
    check_folder(folder, output_dir)
    if processes > 1:
        raise ConfigError("--corruptions evaluates in one process: run tools/eval.py without paddle.distributed")
    if not dataset_lists(config, ["Eval"]):
        dataset = ((config.get("DataLoader") or {}).get("Eval") or {}).get("dataset") or {}
        raise ConfigError(
            f"--corruptions copies an ImageNetDataset or MultiLabelDataset list (image_root and cls_label_path); "
            f"DataLoader.Eval.dataset is {dataset.get('name')!r}"
        )
    metric = metric_name(config)
    config.setdefault("Metric", {})
    entries = config["Metric"].get("Eval") or []
    if not any(metric in entry for entry in entries):
        config["Metric"]["Eval"] = [*entries, {metric: {"bins": 15}}]


def metric_object(engine, name):
    """The `name` metric object of the engine's Metric.Eval (either engine)."""
    combined = engine.eval_metric_func
    found = getattr(combined, "metrics", None) or getattr(combined, "metric_func_list", [])
    return next(metric for metric in found if type(metric).__name__ == name)


def values_of(metric):
    """The values of the evaluation `metric` (a `Calibration` or a `LabelCalibration`) has just seen."""
    from ..core.calibration import expected_calibration_error
    from ..core.label_calibration import label_summary, mean_label_ece

    if type(metric).__name__ == "LabelCalibration":
        summary = label_summary(np.concatenate(metric.scores), np.concatenate(metric.targets), metric.bins)
        counts = summary.pop("label_counts")
        return {"images": sum(len(s) for s in metric.scores), **summary, "ece": mean_label_ece(counts)}
    images = float(metric.counts[0].sum())
    return {
        "images": int(images),
        "top1": float(metric.counts[2].sum() / images),
        "ece": expected_calibration_error(*metric.counts),
        "nll": metric.nll_sum / images,
    }


def eval_loader(engine, run, section):
    """The engine's eval loader on `section` (a DataLoader.Eval section of copies), built by that engine's own
    code; on PaddleClas's Engine its dataset fails at a copy that does not load (`failed_samples.strict`)
    instead of reading a random other one."""
    if run.on_tree:
        from ppcls.data import build_dataloader

        from .failed_samples import strict

        loader = build_dataloader({"Eval": section}, "Eval", engine.device, engine.use_dali)
        strict(loader.dataset, "Eval")
        return loader
    from .standalone.data import build_dataloader as standalone_loader

    return standalone_loader(section, "DataLoader.Eval", engine.class_num, engine.multilabel, evaluation=True)


def evaluate_corrupted(engine, run, say=print):
    """The engine's evaluation on DataLoader.Eval, then on each corrupted copy (made or reused in
    `run.corruptions`, or `<output_dir>/corruptions`); writes `RESULTS` and prints the lines of `report_lines`.
    Returns the clean evaluation's value, as `engine.eval()`. The copies are read under a shared lock
    (`owned_folder.lock`): no other process remakes them meanwhile."""
    from ..core.errors import TrainingStopped
    from .data.corrupted_copies import read_manifest
    from .data.owned_folder import Stopped, lock

    folder = copies_folder(run.output_dir, run.corruptions)
    manifest = copies_of(run.config, folder, say)
    with contextlib.ExitStack() as reading:
        try:
            reading.enter_context(lock(folder, exclusive=False, say=lambda line: say(f"[corruptions] {line}")))
        except Stopped as stop:
            line = f"stopped by {stop.args[0]} while waiting to read the copies in {folder}; nothing evaluated"
            raise TrainingStopped(stop.args[0], 0, 0, line) from None
        if (read_manifest(folder) or {}).get("key") != manifest["key"]:
            raise ConfigError(
                f"--corruptions {folder}: another process made copies of another list there meanwhile: give each "
                f"list its own folder"
            )
        return evaluate_copies(engine, run, folder, manifest, say)


def copies_of(config, folder, say=print, key=None, named="--corruptions"):
    """The corrupted copies of `config`'s DataLoader.Eval list in `folder` (`corrupted_copies.make_copies`, with
    its `key` where the caller has it), a SIGINT or SIGTERM while they are made or just after ending the tool in
    one line (`TrainingStopped`)."""
    from ..core.errors import TrainingStopped
    from .data.corrupted_copies import make_copies
    from .data.corruptions import decode_backend
    from .runs.signals import StopOnSignals

    image_root, list_path, delimiter, multilabel = dataset_lists(config, ["Eval"])[0]
    if multilabel:  # mAP, the copies' metric, must be defined on the list
        _, labels, _ = read_list_file(image_root, list_path, delimiter, multilabel)
        check_positives(f"DataLoader.Eval.dataset.cls_label_path {list_path}", labels)
    backend = decode_backend(config)
    with StopOnSignals() as stop:
        manifest = make_copies(
            image_root, list_path, folder, delimiter, multilabel, say=say, backend=backend, stopped=stop.requested,
            key=key,
            named=named,
        )  # fmt: skip
    if stop.requested():
        name = stop.requested()
        raise TrainingStopped(
            name, 0, 0, f"stopped by {name} once the copies were made in {folder} (the same command reuses them)"
        )
    return manifest


def evaluate_copies(engine, run, folder, manifest, say):
    """`evaluate_corrupted`'s evaluations, the copies in `folder` made (`manifest`)."""
    kept = engine.eval()
    name = metric_name(run.config)
    metric = metric_object(engine, name)
    results = {"clean": values_of(metric), "lists": {}}
    written = {"counts_file": None} if name == "Calibration" else {"scores_file": None}  # the clean one's stays
    base = copy.deepcopy(dict(run.config["DataLoader"]["Eval"]))
    with patched(metric, **written), patched(logging.getLogger("ppcls"), disabled=True):
        for corruption, severities in manifest["lists"].items():
            for severity, relative in severities.items():
                section = copy.deepcopy(base)
                section["dataset"] = {**section["dataset"], "image_root": folder}
                section["dataset"]["cls_label_path"] = os.path.join(folder, relative)
                try:
                    with patched(engine, eval_dataloader=eval_loader(engine, run, section)):
                        engine.eval()
                except DataError as error:
                    raise DataError(
                        f"--corruptions {folder}: a copy does not load ({first_line(error)}): the copies are "
                        f"damaged; remove the folder and run again to make them anew"
                    ) from None
                results["lists"][f"{corruption}/{severity}"] = values_of(metric)
    results.update(copies=folder, key=manifest["key"], left_out=manifest["left_out"])
    path = write_results(run.output_dir, results)
    for line in report_lines(results):
        say(f"[corruptions] {line}")
    say(f"[corruptions] every value: {path}")
    return kept


def write_results(output_dir, results):
    """`results` as JSON in `output_dir/RESULTS`, whole or not at all; its path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, RESULTS)
    write_text(path, json.dumps(results, indent=1))
    return path


def read_results(output_dir):
    """What `write_results` wrote in `output_dir`."""
    with open(os.path.join(output_dir, RESULTS), encoding="utf-8") as handle:
        return json.load(handle)


def report_lines(results):
    """The clean value, one line per corruption (its severities and their mean) and the mean over all copies:
    top-1 (multi-label: mAP) in %, and the mean ECE."""
    key, title = ("map", "mAP") if "map" in results["clean"] else ("top1", "top-1")
    clean, lists = results["clean"], results["lists"]
    lines = [f"clean: {title} {100 * clean[key]:.2f} %, ECE {100 * clean['ece']:.2f} %"]
    corruptions = list(dict.fromkeys(name.split("/")[0] for name in lists))
    for corruption in corruptions:
        shown = [100 * lists[f"{corruption}/{s}"][key] for s in range(1, 6)]
        lines.append(
            f"{corruption}: {title} at severity 1-5 {', '.join(f'{v:.2f}' for v in shown)} %, "
            f"mean {np.mean(shown):.2f} %"
        )
    for corruption, why in results["left_out"].items():
        lines.append(f"{corruption}: left out ({why})")
    if lists:
        mean = 100 * np.mean([v[key] for v in lists.values()])
        ece = 100 * np.mean([v["ece"] for v in lists.values()])
        lines.append(f"mean over {len(corruptions)} corruptions x 5 severities: {title} {mean:.2f} %, ECE {ece:.2f} %")
    return lines
