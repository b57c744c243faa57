"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin
registered when a PaddleClas source tree is found, else the plugin's standalone engine."""
import sys

import paddle

from . import ppcls_host
from .config import check_mutual_contract, check_rdrop_contract, rdrop_settings
from .engine_hook import prepare_engine, prepare_model
from .errors import ConfigError, NonFiniteLossError
from .mutual import MutualModel
from .standalone.engine import ENGINE_NAME, StandaloneEngine

MODES = ("train", "eval", "export", "infer")


def check_device(config):
    device = (config.get("Global") or {}).get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)")


def preflight(config, mode, engine_writes_first):
    """Checks that need the model, run before the engine writes anything; for an engine that
    writes its log before it reads them (PaddleClas's), also the list files and a MutualModel's
    networks."""
    if engine_writes_first:
        _check_lists(config, mode)
    arch_section = dict(config.get("Arch") or {})
    name = arch_section.pop("name", None)
    if name == MutualModel.__name__:
        if engine_writes_first:  # PaddleClas's: its registered MutualModel builds from its ppcls.arch
            from ppcls.arch import MutualModel as host_mutual_model

            with paddle.utils.unique_name.guard():
                try:
                    host_mutual_model(**arch_section)  # a throwaway model: its networks and keys are checked
                except TypeError as error:
                    raise ConfigError(f"Arch (MutualModel): {error}") from None
        return
    from paddleclas.ppcls import arch

    settings = rdrop_settings(config)
    rdrop = (config.get("Global") or {}).get("train_mode") == "rdrop"
    stochastic = settings["head_dropout"] > 0 or settings["drop_path"] > 0
    if mode == "train" and hasattr(arch, str(name)) and (rdrop or stochastic):
        with paddle.utils.unique_name.guard():
            prepare_model(arch.build_model(config, "train"), config)  # a throwaway model


def _check_lists(config, mode):
    """The list files the run reads: lines, images and label range."""
    from .standalone.data import check_label_range, read_list_file

    glob = config.get("Global") or {}
    class_num = (config.get("Arch") or {}).get("class_num", glob.get("class_num"))
    loaders = config.get("DataLoader") or {}
    splits = (["Train"] if mode == "train" else []) + \
        (["Eval"] if mode == "eval" or (mode == "train" and glob.get("eval_during_train", True)) else [])
    for split in splits:
        dataset = ((loaders.get(split) or {}).get("dataset") or {})
        if "image_root" not in dataset or "cls_label_path" not in dataset:
            continue
        _, labels = read_list_file(dataset["image_root"], dataset["cls_label_path"],
                                   dataset.get("delimiter") or " ")
        check_label_range(labels, class_num, dataset["cls_label_path"])


def select_engine():
    """(Engine class, config module, one line saying which engine runs)."""
    try:
        root = ppcls_host.register()
    except ppcls_host.SourceTreeNotFound as why:
        from paddleclas.ppcls.utils import config as config_module

        return StandaloneEngine, config_module, f"{ENGINE_NAME}; {why}"
    from ppcls.engine.engine import Engine
    from ppcls.utils import config as config_module

    return Engine, config_module, f"PaddleClas's Engine from the source tree at {root}"


def run(mode, argv=None):
    """Parse PaddleClas's `-c/-o/-p` arguments and run `mode` on the selected engine."""
    assert mode in MODES, mode
    engine_class, config_module, which = select_engine()
    print(f"paddleclas-rdrop: {which}", flush=True)
    saved_argv = sys.argv
    if argv is not None:
        sys.argv = [saved_argv[0], *argv]
    try:
        args = config_module.parse_args()
    finally:
        sys.argv = saved_argv
    config = config_module.get_config(args.config, overrides=args.override, show=False)
    check_mutual_contract(config)
    check_rdrop_contract(config)
    check_device(config)
    paddleclas_engine = engine_class is not StandaloneEngine
    preflight(config, mode, engine_writes_first=paddleclas_engine)
    if paddleclas_engine:
        config.profiler_options = args.profiler_options
    engine = engine_class(config, mode=mode)
    if mode == "train":
        prepare_engine(engine)
    return getattr(engine, mode)()


def main(mode):
    """Entry point of the tools: user mistakes end in one line, without a traceback."""
    try:
        run(mode)
    except (ConfigError, NonFiniteLossError) as error:
        sys.exit(f"error: {error}")
