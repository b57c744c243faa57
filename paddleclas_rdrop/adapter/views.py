"""Each pass its own augmentation: a train dataset's transform ops, run once per pass on one decoded
image, so that the k passes of a sample see k draws of the crop, flip and the rest."""

from typing import Any, Callable, Sequence

import numpy as np

from ..core.errors import ConfigError


class PassViews:
    """One transform op standing for a dataset's `ops` (PaddleClas's `transform_ops`, decode first):
    the leading `DecodeImage` ops run once, the others `passes` times, each time on a copy of the
    decoded image with its own random draw. Returns the views ``[H, W, k * C]`` (concatenated along
    the channel axis), which the dataset's HWC -> CHW transpose turns into ``[k * C, H, W]``, the
    input `RDrop(augment_per_pass=True)` takes."""

    def __init__(self, ops: Sequence[Callable[[Any], Any]], passes: int) -> None:
        lead = 0
        while lead < len(ops) and type(ops[lead]).__name__ == "DecodeImage":
            lead += 1
        self.decode, self.augment, self.passes = list(ops[:lead]), list(ops[lead:]), passes

    def __call__(self, data: Any) -> np.ndarray:
        for op in self.decode:
            data = op(data)
        views = []
        for _ in range(self.passes):
            view = data.copy()
            for op in self.augment:
                view = op(view)
            views.append(np.asarray(view))
        if views[0].ndim != 3:
            raise ConfigError(
                f"RDrop.augment_per_pass: the train transform_ops end in an image of shape "
                f"{views[0].shape}; they must end in an HWC image, as PaddleClas's do"
            )
        return np.concatenate(views, axis=-1)


def augment_per_pass(dataset: Any, passes: int) -> None:
    """Give `dataset` (PaddleClas's image datasets and the standalone engine's keep their ops in
    `_transform_ops`) one `PassViews` for its ops; idempotent. Raises `ConfigError` for a dataset
    without such ops."""
    ops = getattr(dataset, "_transform_ops", None)
    if not ops:
        raise ConfigError(
            f"RDrop.augment_per_pass: the train dataset {type(dataset).__name__} has no "
            f"transform_ops to run once per pass; set RDrop.augment_per_pass: false"
        )
    if not isinstance(ops[0], PassViews):
        dataset._transform_ops = [PassViews(ops, passes)]
