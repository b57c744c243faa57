"""Deep mutual learning, the R-Drop article's own example: different networks on the same batch,
each taught by its labels (CE) and by the others' predictions through R-Drop's KL. Everything of
it is here; the engines, the config check and the registration call it."""
from .contract import MUTUAL_LOSSES, MUTUAL_MODEL, check_mutual_contract
from .loss import MutualKLLoss
from .metric import MutualTopkAcc
from .model import MutualModel, network_weights

__all__ = ["MUTUAL_LOSSES", "MUTUAL_MODEL", "MutualKLLoss", "MutualModel", "MutualTopkAcc",
           "check_mutual_contract", "network_weights"]
