"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin
registered when a PaddleClas source tree is found, else the plugin's standalone engine.

Nothing happens at import: `main` first gives the process its CPU threads (before paddle is
imported), then imports paddle and the rest.
"""

import argparse
import contextlib
import os
import signal
import sys
import time

from .threads import share_cores

MODES = {
    "train": "Train a classifier from a PaddleClas YAML; with Global.train_mode: rdrop, with R-Drop.",
    "eval": "Evaluate Global.pretrained_model on DataLoader.Eval.",
    "export": "Export Global.pretrained_model for PaddleClas's deploy predictor into Global.save_inference_dir "
    "(inference.json, .pdiparams, .yml), whole or not at all.",
    "infer": "Predict Infer.infer_imgs with the trained model (no export needed).",
}


def tool_parser(prog, description, profiler=True):
    """PaddleClas's -c/-o (and, with `profiler`, -p: the engine tools) arguments, with a help that says what
    the tool does (`description`) and, for the engine tools, the R-Drop keys; `-c` is required, and a
    missing or absent config is one line (`parse_tool_args`)."""
    from ..adapter.settings import keys_help

    epilog = None
    if profiler:
        epilog = (
            "R-Drop keys (YAML or -o key=value):\n  "
            + "\n  ".join(keys_help())
            + f"\nexample: python {prog} -c configs/rdrop_res2net.yaml -o Global.device=cpu -o RDrop.drop_path=0.1"
        )
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-c", "--config", help="the YAML config (required)")
    parser.add_argument("-o", "--override", action="append", default=[], help="key=value over the YAML, repeatable")
    if profiler:
        parser.add_argument(
            "-p", "--profiler_options", default=None, help="PaddleClas's profiler options (key1=value1;...)"
        )
    return parser


def parse_tool_args(parser, argv=None):
    """`parser.parse_args(argv)`; `ConfigError` if `-c` is missing or names no file."""
    from ..core.errors import ConfigError

    args = parser.parse_args(argv)
    if not args.config:
        raise ConfigError(f"no config: give the YAML with -c, e.g. {parser.prog} -c configs/rdrop_se_resnet.yaml")
    if not os.path.isfile(args.config):
        raise ConfigError(f"-c {args.config}: no such file")
    return args


def parse_args(mode, argv=None):
    """The arguments of the tool of `mode` (of `argv`, default the command line)."""
    from .quiet import import_paddle_quietly

    import_paddle_quietly()
    parser = tool_parser(
        f"tools/{'export_model' if mode == 'export' else mode}.py",
        f"{MODES[mode]} paddleclas-rdrop runs PaddleClas's Engine when PADDLECLAS_ROOT names a "
        f"PaddleClas checkout, else its standalone engine.",
    )
    return parse_tool_args(parser, argv)


def check_device(config):
    import paddle

    from ..core.errors import ConfigError

    device = (config.get("Global") or {}).get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)"
        )


def check_lists(config, mode):
    """The list files the run reads: lines, images and label range (the standalone engine checks
    them itself when it builds its data loaders; PaddleClas's writes its log first)."""
    from .data.lists import check_label_range, dataset_lists, read_list_file

    glob = config.get("Global") or {}
    class_num = (config.get("Arch") or {}).get("class_num", glob.get("class_num"))
    splits = (["Train"] if mode == "train" else []) + (
        ["Eval"] if mode == "eval" or (mode == "train" and glob.get("eval_during_train", True)) else []
    )
    for image_root, list_path, delimiter in dataset_lists(config, splits):
        _, labels, numbers = read_list_file(image_root, list_path, delimiter)
        check_label_range(labels, class_num, list_path, numbers)


def check_something_to_train(config):
    """Refuse, before anything is written, a training run that would train nothing: no batch per epoch
    (the images of the train list, `sampler.batch_size`, `drop_last`, the processes) or a resume from a
    checkpoint that already has `Global.epochs` epochs. Raises `ConfigError`."""
    import math

    import paddle

    from ..core.errors import ConfigError
    from .data.lists import dataset_lists, parse_list_file

    glob = config.get("Global") or {}
    sampler = ((config.get("DataLoader") or {}).get("Train") or {}).get("sampler") or {}
    batch_size, drop_last = sampler.get("batch_size"), bool(sampler.get("drop_last", False))
    lists = dataset_lists(config, ["Train"])
    if lists and isinstance(batch_size, int) and batch_size > 0:
        images = len(parse_list_file(*lists[0])[0])
        processes = paddle.distributed.get_world_size()
        per_process = math.ceil(images / processes)
        batches = per_process // batch_size if drop_last else math.ceil(per_process / batch_size)
        if batches == 0:
            raise ConfigError(
                f"DataLoader.Train: {images} images ({lists[0][1]}) in batches of {batch_size} with drop_last "
                f"True{f' over {processes} processes' if processes > 1 else ''} give no batch per epoch, so "
                f"nothing would be trained: set -o DataLoader.Train.sampler.batch_size={max(1, per_process)} "
                f"(or less), or -o DataLoader.Train.sampler.drop_last=False"
            )
    checkpoint, epochs = glob.get("checkpoints"), glob.get("epochs")
    if checkpoint and os.path.exists(f"{checkpoint}.pdstates") and isinstance(epochs, int):
        from .runs.checkpoints import check_resume

        done = int(paddle.load(f"{checkpoint}.pdstates").get("epoch", 0))
        if done >= epochs:
            raise ConfigError(
                f"Global.checkpoints: {checkpoint} has trained {done} epochs and Global.epochs is {epochs}, so "
                f"nothing is left to train: to train on from its weights, start a new schedule with "
                f"-o Global.pretrained_model={checkpoint} (and no Global.checkpoints)"
            )
        check_resume(checkpoint, config)


def check_whole_warmup(config):
    """PaddleClas's learning-rate schedules take `warmup_epoch` as whole epochs (its Cosine fails with a
    TypeError on a fraction); the standalone engine takes fractions. Raises `ConfigError` for a fraction."""
    from ..core.errors import ConfigError
    from .runs.checkpoints import optimizer_entries

    for path, entry in optimizer_entries(config):
        warmup = ((entry or {}).get("lr") or {}).get("warmup_epoch")
        if isinstance(warmup, float) and not warmup.is_integer():
            key = f"{path}.lr.warmup_epoch"
            raise ConfigError(
                f"{key} is {warmup}, but PaddleClas's Engine takes whole epochs: set -o {key}="
                f"{max(1, round(warmup))}, or run the standalone engine (no PADDLECLAS_ROOT), which takes fractions"
            )


def build_tree_model(config, mode):
    """The model PaddleClas's Engine would build, built as it builds it: seeded from `Global.seed`,
    on `Global.device`, with `Global.class_num` moved to `Arch`, by the tree's `build_model` with
    the tree's logger up (console only: some of its models log while they are built)."""
    import random

    import numpy as np
    import paddle
    from ppcls.arch import build_model
    from ppcls.utils import logger

    from ..core.errors import building

    glob = config["Global"]
    seed = glob.get("seed", False)
    if seed or seed == 0:
        paddle.seed(seed), np.random.seed(seed), random.seed(seed)
    paddle.set_device(glob["device"])
    if "class_num" in glob:
        config["Arch"].setdefault("class_num", glob["class_num"])
    logger.init_logger()
    with building(config["Arch"].get("name")), paddle.utils.unique_name.guard():  # names as in a fresh process
        return build_model(config, mode)


@contextlib.contextmanager
def tree_engine_builds(model, show_config=True):
    """PaddleClas's Engine builds its model with `ppcls.engine.engine.build_model` and logs the whole
    config with `print_config`. While the Engine is constructed in this context, the first returns
    `model`, the one the tools built and checked before the Engine writes its log (one model per run),
    and, unless `show_config`, the second prints nothing. The names are restored on leaving."""
    import ppcls.engine.engine as engine_module

    originals = engine_module.build_model, engine_module.print_config
    engine_module.build_model = lambda config, mode="train": model
    if not show_config:
        engine_module.print_config = lambda config: None
    try:
        yield
    finally:
        engine_module.build_model, engine_module.print_config = originals


@contextlib.contextmanager
def tree_engine_lists_images():
    """PaddleClas's `Engine.infer` lists `Infer.infer_imgs` with `ppcls.engine.engine.get_image_list`, which
    matches extensions case-sensitively and skips other files without a word. While it runs in this
    context, that name is `image_files` (any case; every skipped file named in the log), unless an
    `Infer.infer_list` is given; the original is put back on leaving."""
    import logging

    import ppcls.engine.engine as engine_module

    from .data.lists import image_files

    original = engine_module.get_image_list

    def get_image_list(img_file, infer_list=None):
        if infer_list:
            return original(img_file, infer_list=infer_list)
        images, skipped = image_files(img_file)
        for path, why in skipped:
            logging.getLogger("ppcls").warning(f"skipped {path}: {why}")
        return images

    engine_module.get_image_list = get_image_list
    try:
        yield
    finally:
        engine_module.get_image_list = original


def tree_engine(config, mode, settings, check, profiler_options=None):
    """PaddleClas's Engine on `config`, its model built and checked (`check(model)`) first."""
    from ppcls.engine.engine import Engine

    from .broken_images import name_broken_images
    from .tree_lists import reading_lists

    check_lists(config, mode)
    if mode == "train":
        check_whole_warmup(config)
    model = build_tree_model(config, mode)
    check(model)
    name_broken_images(config)
    config.profiler_options = profiler_options  # what PaddleClas's tools/train.py sets from -p
    with tree_engine_builds(model, show_config=mode == "train"), reading_lists():  # one config print
        return Engine(config, mode=mode)


def standalone_engine(config, mode, settings, check, profiler_options=None):
    """The standalone engine on `config`; it checks (`check(model)`) the model it builds before it writes
    anything."""
    from .standalone.engine import StandaloneEngine

    return StandaloneEngine(config, mode=mode, settings=settings, check_model=check)


def select_engine():
    """(the function that builds the engine, PaddleClas's config module, one line saying which
    engine runs)."""
    from ..adapter import registry
    from .quiet import leave_the_ppcls_logger_to_the_tree

    try:
        root = registry.register()
    except registry.SourceTreeNotFound:
        from paddleclas.ppcls.utils import config as config_module

        return (
            standalone_engine,
            config_module,
            f"standalone engine (set {registry.ROOT_VARIABLE} to a PaddleClas checkout for PaddleClas's Engine)",
        )
    from ppcls.utils import config as config_module

    leave_the_ppcls_logger_to_the_tree()
    return tree_engine, config_module, f"PaddleClas's Engine from the source tree at {root}"


def run(mode, argv=None, threads=None):
    """Parse PaddleClas's `-c/-o/-p` arguments (`argv`, default the command line) and run `mode` on
    the selected engine. The R-Drop settings are parsed once, and the model is checked before the
    engine writes anything. `threads`: what `share_cores` chose (chosen here if not given)."""
    from .quiet import get_config_quietly, import_paddle_quietly

    assert mode in MODES, mode
    threads, user_threads = threads or share_cores()
    import_paddle_quietly()
    import paddle

    from ..adapter.log import rewriting_log
    from ..adapter.mutual import check_mutual_contract
    from ..adapter.settings import RDropSettings, sync_alpha
    from ..adapter.train_hook import check_model
    from .quiet import engine_log_words
    from .runs.checkpoints import keep_of
    from .runs.outputs import check_outputs, check_room
    from .runs.weights import check_weights, log_warning
    from .typos import check_overrides
    from .values import check_values

    started = time.time()
    args = parse_args(mode, argv)  # -h and a missing -c before anything else
    check_overrides(args.config, args.override)
    build_engine, config_module, which = select_engine()
    chosen = " (OMP_NUM_THREADS)" if user_threads else ""
    print(f"paddleclas-rdrop: {which}; {threads} CPU threads per process{chosen}", flush=True)
    config = get_config_quietly(config_module, args.config, args.override)
    check_values(config)
    check_mutual_contract(config)
    settings = RDropSettings.from_config(config)
    sync_alpha(config, settings)
    check_device(config)
    check_outputs(config, mode)
    if mode == "train":
        keep_of(config)
        check_something_to_train(config)
    prepares = mode == "train" and (settings.rdrop or settings.adds_layers or settings.augment_per_pass)
    warnings = []

    def check(model):
        """Everything about the model, before the engine writes anything."""
        warnings.append(check_weights(model, config, mode))
        if mode == "train":
            check_room(model, config)
        if prepares:
            check_model(model, settings)

    engine = build_engine(config, mode, settings, check, args.profiler_options)
    for line in filter(None, warnings):
        log_warning(line)
    with rewriting_log(engine_log_words(engine, mode)):
        result = use_engine(engine, mode, config, settings, on_tree=build_engine is tree_engine)
    if mode == "train" and paddle.distributed.get_rank() == 0:
        from .runs.summary import run_summary

        print("\n".join(run_summary(config, args.config, args.override, time.time() - started)), flush=True)
    return result


def use_engine(engine, mode, config, settings, on_tree):
    """What the tool of `mode` does with the built `engine` (`on_tree`: PaddleClas's Engine)."""
    from ..adapter.guards import guard_training
    from ..adapter.train_hook import prepare_engine
    from ..core.errors import TrainingStopped
    from .export import export_whole
    from .runs.checkpoints import keep_of, remove_partial_saves, schedule_of, whole_tree_checkpoints
    from .runs.signals import StopOnSignals, stopped_line
    from .runs.weights import log_warning

    if mode == "export":
        return export_whole(engine)
    if mode == "infer" and on_tree:
        with tree_engine_lists_images():
            return engine.infer()
    if mode != "train":
        return getattr(engine, mode)()
    prepare_engine(engine, settings)
    for stale in remove_partial_saves(config["Global"]["output_dir"]):
        log_warning(f"removed {stale}: a save that a killed run left half-written (the checkpoints are whole)")
    with StopOnSignals() as stop:
        guard_training(engine, stop.requested)
        try:
            if on_tree:
                with whole_tree_checkpoints(schedule_of(config), keep_of(config)):
                    return engine.train()
            return engine.train()
        except TrainingStopped as stopped:
            stopped.line = stopped_line(
                stopped, config["Global"]["output_dir"], stop.started, config["Global"].get("checkpoints")
            )
            raise


def main(mode):
    """Entry point of the tools: the process's CPU threads first, then `run`; a user's mistake ends
    in one line `error: ...` and exit code 1, without a traceback."""
    threads = share_cores()
    from ..core.errors import RDropError, TrainingStopped
    from .quiet import quiet_after_success

    try:
        run(mode, threads=threads)
        quiet_after_success()
    except TrainingStopped as stop:
        print(stop.line, file=sys.stderr, flush=True)
        sys.exit(128 + signal.Signals[stop.signal_name].value)
    except RDropError as error:
        sys.exit(f"error: {error}")
