"""R-Drop for PaddleClas: the KL loss, the k-pass forward and their PaddleClas registration;
and the article's two-network variant, deep mutual learning (`MutualModel`, `MutualKLLoss`).

The names below are imported on first use, so that importing a light module of the package
(`paddleclas_rdrop.host.threads`) does not import paddle.
"""
import importlib

_HOMES = {
    "ConfigError": ".errors", "RDropConfigError": ".errors", "compute_kl_loss": ".kl", "RDropLoss": ".loss",
    "MutualKLLoss": ".mutual", "MutualModel": ".mutual", "MutualTopkAcc": ".mutual",
    "STRATEGIES": ".passes", "RDrop": ".passes", "add_drop_path": ".passes", "add_head_dropout": ".passes",
    "add_stochastic_layers": ".passes", "stochastic_layers": ".passes",
}
__all__ = sorted(_HOMES)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


def __dir__():
    return sorted([*globals(), *_HOMES])
