"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin registered."""
import sys

import paddle

from .config import check_rdrop_contract, rdrop_settings
from .errors import RDropConfigError
from . import ppcls_host

MODES = ("train", "eval", "export", "infer")


def check_device(config):
    device = (config.get("Global") or {}).get("device", "cpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise RDropConfigError(
            "Global.device is gpu but this Paddle build has no CUDA: add -o Global.device=cpu "
            "(or install a GPU build of paddlepaddle)")


def run(mode, argv=None):
    """Parse PaddleClas's `-c/-o/-p` arguments and hand the work to PaddleClas's Engine."""
    assert mode in MODES, mode
    ppcls_host.register()
    from ppcls.engine.engine import Engine
    from ppcls.utils import config as ppcls_config

    saved_argv = sys.argv
    if argv is not None:
        sys.argv = [saved_argv[0], *argv]
    try:
        args = ppcls_config.parse_args()
    finally:
        sys.argv = saved_argv
    config = ppcls_config.get_config(args.config, overrides=args.override, show=False)
    check_rdrop_contract(config)
    rdrop_settings(config)
    check_device(config)
    config.profiler_options = args.profiler_options
    engine = Engine(config, mode=mode)
    if mode == "train":
        ppcls_host.prepare_engine(engine)
    return getattr(engine, mode)()


def main(mode):
    """Entry point of the tools: user mistakes end in one line, without a traceback."""
    try:
        run(mode)
    except (RDropConfigError, ppcls_host.SourceTreeNotFound) as error:
        sys.exit(f"error: {error}")
