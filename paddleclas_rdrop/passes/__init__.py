"""Model surgery for R-Drop: the k-pass runner and the stochastic layers it adds through hooks
(dropout before the classifier, drop path on residual branches), none renaming a parameter."""
from .drop_path import STAGES, DropPath, residual_blocks
from .runner import (STRATEGIES, RDrop, add_drop_path, add_head_dropout, add_stochastic_layers, logits_of,
                     stochastic_layers, unwrap)

__all__ = ["STAGES", "STRATEGIES", "DropPath", "RDrop", "add_drop_path", "add_head_dropout",
           "add_stochastic_layers", "logits_of", "residual_blocks", "stochastic_layers", "unwrap"]
