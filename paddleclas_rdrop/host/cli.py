"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin
registered when a PaddleClas source tree is found, else the plugin's standalone engine."""
import argparse
import sys

from .quiet import get_config_quietly, import_paddle_quietly, leave_the_ppcls_logger_to_the_tree
from .threads import share_cores

THREADS, USER_THREADS = share_cores()  # before paddle is imported: the tools use the machine's cores
import_paddle_quietly()

import paddle  # noqa: E402

from . import tree  # noqa: E402
from .config import check_rdrop_contract, keys_help, rdrop_settings
from .engine_hook import prepare_engine, prepare_model
from .export import export_whole
from ..errors import ConfigError, NonFiniteLossError
from .guards import guard_training
from ..mutual import MutualModel, check_mutual_contract
from ..standalone.engine import ENGINE_NAME, StandaloneEngine, build_standalone_model

MODES = {
    "train": "Train a classifier from a PaddleClas YAML; with Global.train_mode: rdrop, with R-Drop.",
    "eval": "Evaluate Global.pretrained_model on DataLoader.Eval.",
    "export": "Export Global.pretrained_model for PaddleClas's deploy predictor into Global.save_inference_dir "
              "(inference.json, .pdiparams, .yml), whole or not at all.",
    "infer": "Predict Infer.infer_imgs with the trained model (no export needed).",
}


def parse_args(mode):
    """PaddleClas's -c/-o/-p arguments, with a help that says what the tool does and the R-Drop keys."""
    parser = argparse.ArgumentParser(
        prog=f"tools/{'export_model' if mode == 'export' else mode}.py",
        description=f"{MODES[mode]} paddleclas-rdrop runs PaddleClas's Engine when PADDLECLAS_ROOT names a "
                    f"PaddleClas checkout, else its standalone engine.",
        epilog="R-Drop keys (YAML or -o key=value):\n  " + "\n  ".join(keys_help()) +
               "\nexample: python tools/train.py -c configs/rdrop_res2net.yaml -o Global.device=cpu -o RDrop.drop_path=0.1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", default="configs/config.yaml", help="the YAML config")
    parser.add_argument("-o", "--override", action="append", default=[], help="key=value over the YAML, repeatable")
    parser.add_argument("-p", "--profiler_options", default=None, help="PaddleClas's profiler options (key1=value1;...)")
    return parser.parse_args()


def check_device(config):
    device = (config.get("Global") or {}).get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)")


def preflight(config, mode, build_model, engine_writes_first):
    """Checks run before the engine writes anything, on a throwaway of the model the engine will
    build (`build_model`): the stochastic layers and the k-pass runner fit it. For an engine that
    writes its log before it reads them (PaddleClas's), also the list files and a MutualModel's
    networks."""
    if engine_writes_first:
        _check_lists(config, mode)
    settings = rdrop_settings(config)
    rdrop = (config.get("Global") or {}).get("train_mode") == "rdrop"
    prepares = mode == "train" and (rdrop or settings["head_dropout"] > 0 or settings["drop_path"] > 0)
    name = (config.get("Arch") or {}).get("name")
    if not (prepares or (engine_writes_first and name == MutualModel.__name__)):
        return
    with paddle.utils.unique_name.guard():
        try:
            model = build_model(config, "train")
        except (TypeError, AttributeError) as error:
            raise ConfigError(f"Arch: cannot build {name!r}: {error}") from None
        if prepares:
            prepare_model(model, config)


def _check_lists(config, mode):
    """The list files the run reads: lines, images and label range."""
    from ..data.lists import check_label_range, dataset_lists, read_list_file

    glob = config.get("Global") or {}
    class_num = (config.get("Arch") or {}).get("class_num", glob.get("class_num"))
    splits = (["Train"] if mode == "train" else []) + \
        (["Eval"] if mode == "eval" or (mode == "train" and glob.get("eval_during_train", True)) else [])
    for image_root, list_path, delimiter in dataset_lists(config, splits):
        _, labels, _ = read_list_file(image_root, list_path, delimiter)
        check_label_range(labels, class_num, list_path)


def select_engine():
    """(Engine class, config module, its build_model, one line saying which engine runs)."""
    try:
        root = tree.register()
    except tree.SourceTreeNotFound as why:
        from paddleclas.ppcls.utils import config as config_module

        return StandaloneEngine, config_module, build_standalone_model, f"{ENGINE_NAME}; {why}"
    from ppcls.engine.engine import Engine
    from ppcls.utils import config as config_module

    leave_the_ppcls_logger_to_the_tree()

    return Engine, config_module, _build_tree_model, f"PaddleClas's Engine from the source tree at {root}"


def _build_tree_model(config, mode):
    """The tree's `build_model`, with its logger up (console only): some of its models log while
    they are built, which fails before PaddleClas's Engine has set the logger up."""
    from ppcls.arch import build_model
    from ppcls.utils import logger

    logger.init_logger()
    return build_model(config, mode)


def run(mode, argv=None):
    """Parse PaddleClas's `-c/-o/-p` arguments and run `mode` on the selected engine."""
    assert mode in MODES, mode
    engine_class, config_module, build_model, which = select_engine()
    chosen = "as OMP_NUM_THREADS says" if USER_THREADS else "its share of this machine's cores; set OMP_NUM_THREADS to choose"
    print(f"paddleclas-rdrop: {which}; {THREADS} CPU threads per process ({chosen})", flush=True)
    saved_argv = sys.argv
    if argv is not None:
        sys.argv = [saved_argv[0], *argv]
    try:
        args = parse_args(mode)
    finally:
        sys.argv = saved_argv
    config = get_config_quietly(config_module, args.config, args.override)
    check_mutual_contract(config)
    check_rdrop_contract(config)
    check_device(config)
    paddleclas_engine = engine_class is not StandaloneEngine
    preflight(config, mode, build_model, engine_writes_first=paddleclas_engine)
    if paddleclas_engine:
        config.profiler_options = args.profiler_options
        tree.name_broken_images(config)
    engine = engine_class(config, mode=mode)
    if mode == "train":
        prepare_engine(engine)
        guard_training(engine)
    if mode == "export":
        return export_whole(engine)
    return getattr(engine, mode)()


def main(mode):
    """Entry point of the tools: user mistakes end in one line, without a traceback."""
    try:
        run(mode)
    except (ConfigError, NonFiniteLossError) as error:
        sys.exit(f"error: {error}")
