"""R-Drop for PaddleClas: the KL loss, the k-pass forward and their PaddleClas registration."""
from .errors import RDropConfigError
from .kl import compute_kl_loss
from .loss import RDropLoss
from .passes import STRATEGIES, RDrop, stochastic_layers

__all__ = ["RDrop", "RDropConfigError", "RDropLoss", "STRATEGIES", "compute_kl_loss",
           "stochastic_layers"]
__version__ = "0.1.0"
