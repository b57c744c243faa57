"""R-Drop for PaddleClas (Liang et al., "R-Drop: Regularized Dropout for Neural Networks", NeurIPS 2021):
the KL loss, the k-pass forward and the stochastic layers (`core`, paddle only), their PaddleClas
adapter (`adapter`: the YAML contract, the train hook, registration) and the tools (`tools`: the
command line, the standalone engine, export, predict, data); and the article's two-network variant,
deep mutual learning (`MutualModel`, `MutualKLLoss`); for imbalanced classes, `ClassWeightedCELoss` and
`ClassBalancedSampler`.

The names below are imported on first use, so that importing a light module of the package
(`paddleclas_rdrop.tools.threads`) does not import paddle. `RDrop`, `add_drop_path` and
`add_stochastic_layers` are the adapter's (`adapter.runner`): the core's, with errors that name the
config keys that fix them.
"""

import importlib

_HOMES = {
    "ConfigError": ".core.errors",
    "DataError": ".core.errors",
    "RDropError": ".core.errors",
    "NonFiniteLossError": ".core.errors",
    "compute_kl_loss": ".core.kl",
    "compute_bernoulli_kl_loss": ".core.kl",
    "RDropLoss": ".core.loss",
    "ClassWeightedCELoss": ".core.class_weighted_ce",
    "ClassBalancedSampler": ".adapter.balanced_sampler",
    "MutualKLLoss": ".adapter.mutual",
    "MutualTopkAcc": ".adapter.mutual",
    "MutualModel": ".adapter.mutual",
    "STRATEGIES": ".core.runner",
    "RDrop": ".adapter.runner",
    "add_drop_path": ".adapter.runner",
    "add_head_dropout": ".core.head_dropout",
    "add_stochastic_layers": ".adapter.runner",
    "stochastic_layers": ".core.models",
}
__all__ = sorted(_HOMES)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


def __dir__():
    return sorted([*globals(), *_HOMES])
