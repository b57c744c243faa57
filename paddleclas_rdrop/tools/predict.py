"""Predict from an exported model with PaddleClas's own deploy predictor (the pip wheel's).

The wheel's `paddleclas` command refuses a paddle-3 export (it looks for `inference.pdmodel`), and
its `ClsPredictor` turns on the inference memory optimisation, which fails on CPU with paddle 3.3.1
("Not find predictor_id 0 and pass_name memory_optimize_pass"). `ExportPredictor` is that
`ClsPredictor` (its pre-processing, `predict` and post-processing) with the Paddle predictor created
without it; its config is built from the training config's `Infer` section, so training, export and
prediction read one YAML.

Importing this module imports paddle quietly (`quiet.import_paddle_quietly`): only `tools/predict.py`
and the end-of-run summary import it, as their first step.
"""

import contextlib
import os

from .quiet import import_paddle_quietly

import_paddle_quietly()

from paddle.inference import Config, create_predictor  # noqa: E402
from paddleclas.deploy.python.predict_cls import ClsPredictor  # noqa: E402
from paddleclas.deploy.utils.config import AttrDict, create_attr_dict  # noqa: E402

from ..core.errors import DataError, RDropError, naming_paths  # noqa: E402
from ..core.files import replacing  # noqa: E402
from .data.class_map import config_class_map, reading_class_maps  # noqa: E402
from .data.lists import decode, unreadable_images  # noqa: E402
from .data.paths import naming_config_paths  # noqa: E402
from .data.text import shown  # noqa: E402
from .evaluations import eval_list  # noqa: E402
from .export import MODEL_FILES, class_names  # noqa: E402
from .tally import Tally  # noqa: E402


def deploy_config(config, model_dir, batch_size=1):
    """PaddleClas's deploy config (Global/PreProcess/PostProcess) for a training config's Infer."""
    infer = config["Infer"]
    transforms = [op for op in infer["transforms"] if "DecodeImage" not in op]  # images come decoded
    postprocess = dict(infer["PostProcess"])
    name = postprocess.pop("name")
    names = class_names(config)
    if names is not None and takes_label_list(name):  # no class map: the class ids are the names
        postprocess["label_list"] = names
    deploy = AttrDict(
        {
            "Global": {
                "inference_model_dir": model_dir,
                "batch_size": batch_size,
                "use_gpu": False,
                "cpu_num_threads": 1,
                "use_fp16": False,
                "use_tensorrt": False,
            },
            "PreProcess": {"transform_ops": transforms},
            "PostProcess": {"main_indicator": name, name: postprocess},
        }
    )
    create_attr_dict(deploy)
    return deploy


def takes_label_list(name):
    """Whether the wheel's deploy post-process `name` (Topk: yes; MultiLabelThreshOutput: no) takes `label_list`."""
    import inspect

    from paddleclas.deploy.python import postprocess

    process = getattr(postprocess, name, None)
    return process is not None and "label_list" in inspect.signature(process).parameters


def is_multilabel(config):
    """Whether `config` is multi-label (`Global.use_multilabel: True`): its export ends in a sigmoid per label."""
    return bool((config.get("Global") or {}).get("use_multilabel"))


def raw_scores(predictor, images):
    """The export's output for decoded RGB `images`, without the post-process: float32 ``[B, C]``, softmax
    probabilities, or multi-label sigmoids, each in [0, 1]."""
    postprocess, predictor.postprocess = predictor.postprocess, None
    try:
        return predictor.predict(images)
    finally:
        predictor.postprocess = postprocess


class ExportPredictor(ClsPredictor):
    """PaddleClas's ClsPredictor for a paddle-3 export (`inference.json`) on CPU."""

    def create_paddle_predictor(self, args, inference_model_dir=None):
        config = Config(inference_model_dir or args.inference_model_dir, "inference")
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(args.cpu_num_threads)
        config.disable_glog_info()
        config.switch_use_feed_fetch_ops(False)
        return create_predictor(config), config


def export_predictor(config, model_dir):
    """An `ExportPredictor` for the export in `model_dir`, set up from the training `config`.
    PaddleClas's own export tool writes no `inference.yml`, so only the model files are required."""
    for name in MODEL_FILES:
        path = os.path.join(model_dir, name)
        if not os.path.exists(path):
            raise DataError(
                f"{path} not found: export the model first "
                f"(tools/export_model.py) or point Global.save_inference_dir at the export"
            )
        if os.path.getsize(path) == 0:
            raise DataError(f"{path} is empty: the export is incomplete; export the model again")
    try:
        with reading_class_maps():  # its post-process reads the class map with the plugin's reader
            return ExportPredictor(deploy_config(config, model_dir))
    except RDropError:
        raise
    except Exception as error:  # paddle's loader raises RuntimeError/ValueError/OSError variants
        raise DataError(
            f"the export in {model_dir} cannot be loaded ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0][:200]}): export the model again"
        ) from None


def read_rgb(path):
    """The image at `path` as RGB `[H, W, 3]` uint8; `DataError` naming it when it cannot be decoded."""
    image = decode(path)
    if image is None:
        raise DataError(f"cannot read image {shown(path)}: it is missing or not an image cv2 can decode")
    return image[:, :, ::-1]


def infer_images(config):
    """(images, skipped files with the reason) of `Infer.infer_imgs` (a file or a folder); `DataError`
    if there is no image."""
    from .data.lists import image_files

    return image_files((config.get("Infer") or {}).get("infer_imgs"))


def check_class_names(config, predictor, image_path):
    """The export's class count (from one raw prediction) against the label list of
    `Infer.PostProcess.class_id_map_file`; `DataError` in one line if they disagree."""
    classes = raw_scores(predictor, [read_rgb(image_path)]).shape[-1]
    names = class_names(config)
    where = "Arch.class_num"
    if names is None:
        where = config["Infer"]["PostProcess"]["class_id_map_file"]
        names = config_class_map(config)
        if not names:  # no class map file: PaddleClas's Topk then names classes by id, nothing to compare
            return
    if len(names) != classes:
        raise DataError(
            f"the export in {config['Global']['save_inference_dir']} gives {classes} classes but {where} names "
            f"{len(names)}: export the model trained for this label list, or point "
            f"Infer.PostProcess.class_id_map_file at the export's"
        )


def parse_config(prog, description, argv=None):
    """The config of the tool's `-c CONFIG -o key=value` arguments (`argv`, default the command line);
    `-h` shows `description`. `ConfigError` for a missing `-c`, a typo'd `-o` key."""
    from .args import parse_tool_args, tool_parser

    return load_config(parse_tool_args(tool_parser(prog, description, profiler=False), argv))


def load_config(args):
    """The config of parsed `-c`/`-o` arguments, a typo'd `-o` key refused (`ConfigError`), its paths expanded
    as the tools expand them (`paths.resolve_paths`; the weights keys are not checked: prediction reads an
    export)."""
    from paddleclas.ppcls.utils import config as ppcls_config

    from .run_config import config_of, read_checked

    return config_of(ppcls_config, read_checked(args.config, args.override), args.override, check_weights=False)


def true_labels(config):
    """{image path (normalised): label} of the Eval list (an int, or for a MultiLabelDataset list a tuple of
    its 0/1/-1 targets), or {} when the config has none on disk."""
    from .data.lists import dataset_lists, parse_list_file

    lists = [entry for entry in dataset_lists(config, ["Eval"]) if os.path.isfile(entry[1])]
    if not lists:
        return {}
    paths, labels, _ = parse_list_file(*lists[0])
    if labels.ndim == 2:
        return {os.path.normpath(path): tuple(map(int, label)) for path, label in zip(paths, labels)}
    return {os.path.normpath(path): int(label) for path, label in zip(paths, labels)}


def prediction_line(path, result, truth=None, names=None):
    """One line for one image: its path, the top-k classes (id, and the name when it is not the id) with
    their scores in %, and `truth` (the true label, if known) named from `names` ({id: name})."""

    def named(class_id, name):
        return str(class_id) if str(name) == str(class_id) else f"{class_id} ({name})"

    ids, scores = result["class_ids"], result["scores"]
    label_names = result.get("label_names") or ids
    top = ", ".join(f"{named(i, n)} {100 * score:.1f} %" for i, n, score in zip(ids, label_names, scores))
    line = f"{path}: {top}"
    if truth is not None:
        line += f"; true label {named(truth, (names or {}).get(truth, truth))}"
    return line


def multilabel_line(path, result, scores, truth=None, names=None):
    """One line for one image of a multi-label export: its path, the labels `result` (MultiLabelThreshOutput's)
    keeps, the score in [0, 1] of every label (`scores` ``[L]``, the export's sigmoids) and `truth` (the
    targets, if known: the labels of target 1, and those of -1 as unknown)."""

    def named(label_id):
        name = (names or {}).get(label_id, label_id)
        return str(label_id) if str(name) == str(label_id) else f"{label_id} ({name})"

    kept = ", ".join(named(i) for i in result["class_ids"]) or "none"
    line = f"{path}: labels {kept}; scores " + ", ".join(f"{i}: {score:.3f}" for i, score in enumerate(scores))
    if truth is not None:
        line += "; true labels " + (", ".join(named(i) for i, target in enumerate(truth) if target == 1) or "none")
        unknown = [str(i) for i, target in enumerate(truth) if target < 0]
        line += f" ({', '.join(unknown)} unknown)" if unknown else ""
    return line


DESCRIPTION = (
    "Predict the images of Infer.infer_imgs (a file or a folder), or with --eval-list those of "
    "DataLoader.Eval's list, with the export in Global.save_inference_dir, through PaddleClas's deploy "
    "predictor. One line per image: the file, the top-k classes (Infer.PostProcess.topk) with their scores, "
    "and the true label when the image is in the Eval list; with true labels, the top-1 accuracy and the per-class "
    "results (precision, recall, support, balanced accuracy, confusion matrix) at the end. "
    "An image that cannot be read is named, the others are predicted, and the exit code is 1."
)


def parse_args(argv=None):
    """(config, args) of `tools/predict.py`: PaddleClas's -c/-o, --eval-list and --save."""
    from .args import parse_tool_args, tool_parser

    parser = tool_parser("tools/predict.py", DESCRIPTION, profiler=False)
    parser.add_argument("--eval-list", action="store_true", help="predict the images of DataLoader.Eval's list")
    parser.add_argument(
        "--save",
        help="also write the predictions to this CSV: image,class_id,class_name,score (--eval-list: and "
        "true_class_id,true_class_name), or multi-label image, a score column per label, predicted and (--eval-list) "
        "true, the labels joined by |",
    )
    args = parse_tool_args(parser, argv)
    if args.save and os.path.exists(args.save):
        raise DataError(f"--save {args.save} exists: remove it, or give another file (predictions are not overwritten)")
    return load_config(args), args


def eval_list_images(config):
    """The images of DataLoader.Eval's list file, in its order."""
    from .data.lists import dataset_lists, parse_list_file

    lists = dataset_lists(config, ["Eval"])
    if not lists:
        raise DataError("--eval-list: the config has no DataLoader.Eval.dataset list (image_root, cls_label_path)")
    return list(parse_list_file(*lists[0])[0])


class PredictionFile:
    """The CSV of `--save`, written whole or not at all: rows go to a temporary file beside it, renamed over it when
    the context ends without an error, removed otherwise (`core.files.replacing`). A row per image:
    `image,class_id,class_name,score` (top-1; with `truths` also `true_class_id,true_class_name`), or, multi-label,
    `image`, one score column per label (the header: the label names of `names`, {id: name}, or the ids),
    `predicted` (the labels MultiLabelThreshOutput keeps, joined by `|`) and, with `truths`, `true` (the labels of
    target 1; a label of target -1, unknown, is left out)."""

    def __init__(self, path, multilabel=False, names=None, truths=False):
        import csv
        import sys

        self.path, self.multilabel, self.replacing = path, multilabel, replacing(path)
        self.names, self.truths, self.started = names or {}, truths, not multilabel
        temporary = self.replacing.__enter__()
        try:
            self.handle = open(temporary, "w", newline="", encoding="utf-8")
        except BaseException:  # through `replacing`, which names `path` in an OSError and removes what it made
            self.replacing.__exit__(*sys.exc_info())
            raise
        self.writer = csv.writer(self.handle)
        if not multilabel:
            truth_columns = ["true_class_id", "true_class_name"] if truths else []
            self.writer.writerow(["image", "class_id", "class_name", "score", *truth_columns])

    def label(self, index):
        return str(self.names.get(index, index))

    def add(self, path, result, scores, truth=None):
        if not self.multilabel:
            name = (result.get("label_names") or result["class_ids"])[0]
            row = [path, result["class_ids"][0], name, f"{result['scores'][0]:.6f}"]
            if self.truths:
                row += ["", ""] if truth is None else [truth, self.label(truth)]
            self.writer.writerow(row)
            return
        if not self.started:  # the header, once the label count is known
            labels = [self.label(index) for index in range(len(scores))]
            self.writer.writerow(["image", *labels, "predicted"] + (["true"] if self.truths else []))
            self.started = True
        row = [path, *(f"{score:.6f}" for score in scores), "|".join(map(self.label, result["class_ids"]))]
        if self.truths:
            row.append("|".join(self.label(i) for i, target in enumerate(truth or ()) if target == 1))
        self.writer.writerow(row)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()
        return self.replacing.__exit__(*exc)


def predict_images(config, args, predictor, images):
    """Predict each of `images`, print its line (and `--save` it); returns the paths that could not be read."""
    import sys

    multilabel, truths, names = is_multilabel(config), true_labels(config), config_class_map(config)
    failed, tally, checked = [], Tally(multilabel), False
    saving = PredictionFile(args.save, multilabel, names, args.eval_list) if args.save else contextlib.nullcontext()
    with saving as saved:
        for path in images:
            try:
                image = read_rgb(path)
            except DataError as error:
                print(f"error: {error}", file=sys.stderr, flush=True)
                failed.append(path)
                continue
            if not checked:  # on the first image read
                check_class_names(config, predictor, path)
                checked = True
            scores = raw_scores(predictor, [image])
            result, truth = predictor.postprocess(scores)[0], truths.get(os.path.normpath(path))
            line = multilabel_line(path, result, scores[0], truth, names) if multilabel else None
            print(line or prediction_line(path, result, truth, names))
            if saved:
                saved.add(path, result, scores[0], truth)
            tally.add(result, truth, scores.shape[-1])
    if args.save:
        print(f"predictions: {args.save} ({len(images) - len(failed)} images)")
    if args.eval_list and tally.counted:
        print(tally.line())
        print("\n".join(tally.per_class_lines(eval_list(config), names)))
    return failed


def main(argv=None):
    """`tools/predict.py -c CONFIG [-o ...] [--eval-list] [--save FILE]`: predict with the export in
    `Global.save_inference_dir`, as PaddleClas's deploy/python/predict_cls.py would, one line per image
    (multi-label: the labels Infer.PostProcess's MultiLabelThreshOutput keeps and every label's score).
    A missing export is named first, then missing images, each in one line; an unreadable image is named
    and skipped, and makes the exit code 1 once the others are predicted."""
    import sys

    try:
        config, args = parse_args(argv)
        with naming_config_paths(config), naming_paths({"--save": args.save}):  # an OSError names its key
            predictor = export_predictor(config, config["Global"]["save_inference_dir"])
            if args.eval_list:
                images, skipped = eval_list_images(config), []
            else:
                images, skipped = infer_images(config)
            for path, why in skipped:
                print(f"skipped {path}: {why}")
            failed = predict_images(config, args, predictor, images)
        if failed:
            sys.exit(f"error: {unreadable_images(failed, len(images))}")
    except RDropError as error:
        sys.exit(f"error: {error}")
