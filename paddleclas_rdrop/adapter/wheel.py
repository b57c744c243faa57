"""The `paddleclas` wheel's modules, imported without a second console handler on the `ppcls` logger.

The wheel's `paddleclas.py` sets the `ppcls` logger up when it is first imported. In a run of a PaddleClas
source tree's Engine, whose logger is set up already, a first import of the wheel after it (the plugin asks
the wheel's backbones about a model) made every log line after it print twice."""

import importlib
import logging
from types import ModuleType


def wheel_module(name: str) -> ModuleType:
    """`paddleclas.<name>` (`ppcls.arch.backbone`, ...). Where the `ppcls` logger had handlers before (a tree's
    run, or a standalone run that imported the wheel already), the handlers its import added are taken off."""
    logger = logging.getLogger("ppcls")
    before = list(logger.handlers)
    module = importlib.import_module(f"paddleclas.{name}")
    if before:
        for handler in [handler for handler in logger.handlers if handler not in before]:
            logger.removeHandler(handler)
    return module
