"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin
registered when a PaddleClas source tree is found, else the plugin's standalone engine."""
import sys

import paddle

from . import ppcls_host
from .config import check_rdrop_contract, rdrop_settings
from .engine_hook import prepare_engine
from .errors import ConfigError

MODES = ("train", "eval", "export", "infer")


def check_device(config):
    device = (config.get("Global") or {}).get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)")


def select_engine():
    """(Engine class, config module, one line saying which engine runs)."""
    try:
        root = ppcls_host.register()
    except ppcls_host.SourceTreeNotFound as why:
        from paddleclas.ppcls.utils import config as config_module

        from .standalone.engine import ENGINE_NAME, StandaloneEngine

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
    check_rdrop_contract(config)
    rdrop_settings(config)
    check_device(config)
    if engine_class.__module__.startswith("ppcls"):
        config.profiler_options = args.profiler_options
    engine = engine_class(config, mode=mode)
    if mode == "train":
        prepare_engine(engine)
    return getattr(engine, mode)()


def main(mode):
    """Entry point of the tools: user mistakes end in one line, without a traceback."""
    try:
        run(mode)
    except ConfigError as error:
        sys.exit(f"error: {error}")
