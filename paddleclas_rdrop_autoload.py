"""Registers paddleclas-rdrop into a PaddleClas source tree as soon as that tree's Engine is imported,
so that PaddleClas's own tools (train, eval, export_model, infer, launch) run the plugin's configs.

`paddleclas_rdrop_autoload.pth` calls `install()` at interpreter start: it adds one import hook
and imports nothing, so a process that never imports `ppcls` never imports paddle or the plugin.
Set PADDLECLAS_RDROP_AUTOLOAD=0 to turn it off.
"""

import sys

TRIGGER = "ppcls.engine.engine"  # the module PaddleClas's tools import the Engine from
VARIABLE = "PADDLECLAS_RDROP_AUTOLOAD"


class _RegisterAfterEngineImport:
    """A meta path finder that finds nothing itself: it lets the other finders load the trigger
    module, then registers the plugin into the `ppcls` it belongs to."""

    def find_spec(self, name, path=None, target=None):
        if name != TRIGGER:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                _register_after(spec.loader)
                return spec
        return None


def _register_after(loader):
    execute = loader.exec_module

    def exec_module(module):
        execute(module)
        from paddleclas_rdrop.adapter.registry import one_line_errors, register

        register()
        one_line_errors()

    loader.exec_module = exec_module


def install():
    import os

    if os.environ.get(VARIABLE, "1") == "0":
        return
    if not any(isinstance(finder, _RegisterAfterEngineImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterEngineImport())
