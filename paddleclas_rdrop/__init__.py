"""R-Drop for PaddleClas: the KL loss, the k-pass forward and their PaddleClas registration;
and the article's two-network variant, deep mutual learning (`MutualModel`, `MutualKLLoss`)."""
from .errors import ConfigError, RDropConfigError
from .kl import compute_kl_loss
from .loss import RDropLoss
from .mutual import MutualKLLoss, MutualModel, MutualTopkAcc
from .passes import STRATEGIES, RDrop, add_drop_path, add_head_dropout, add_stochastic_layers, stochastic_layers

__all__ = ["ConfigError", "MutualKLLoss", "MutualModel", "MutualTopkAcc", "RDrop", "RDropConfigError",
           "RDropLoss", "STRATEGIES", "add_drop_path", "add_head_dropout", "add_stochastic_layers", "compute_kl_loss", "stochastic_layers"]
__version__ = "0.1.0"
