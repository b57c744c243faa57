"""`ClassBalancedSampler`: a train batch sampler that draws every class equally often in an epoch, for
imbalanced classes; PaddleClas's sampler contract (`ppcls/data/__init__.py: build_dataloader` builds it as
``ClassBalancedSampler(dataset, **DataLoader.Train.sampler)``), registered there by `registry.register`."""

from typing import Any, Iterator, List, Optional

import numpy as np
from paddle.io import DistributedBatchSampler

from ..core.errors import ConfigError


class ClassBalancedSampler(DistributedBatchSampler):
    """Class-balanced resampling with replacement (the "class-aware sampling" of Shen et al., "Relay
    Backpropagation for Effective Learning of Deep Convolutional Neural Networks", ECCV 2016): an epoch has as
    many samples as `DistributedBatchSampler`'s, ``num_samples = ceil(N / processes)`` per process, of which
    every class present in the list gets an equal share (the remainder of the division one more, to classes
    drawn at random), each share drawn from the class's images with replacement, and the whole in random order.

    The draw depends on ``seed`` and the epoch alone (``numpy.random.default_rng([seed, epoch])``), so every
    process draws the same epoch and takes its own contiguous ``num_samples`` of it (``rank``): the shares are
    disjoint and together the epoch. ``epoch`` is `DistributedBatchSampler`'s: `set_epoch` sets it (a resume),
    each iteration adds one, as PaddleClas's Engine expects.

    Args:
        dataset: a dataset with ``labels``, one int class id per sample (PaddleClas's `ImageNetDataset` and the
            standalone engine's dataset have them).
        batch_size, num_replicas, rank, drop_last: `paddle.io.DistributedBatchSampler`'s.
        shuffle: taken for PaddleClas's configs; the draw is in random order either way.
        seed: a whole number >= 0 (the plugin's tools give it ``Global.seed``; 0 otherwise).

    Raises:
        ConfigError: a dataset without one int label per sample (multi-label targets, or no ``labels``).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        num_replicas: Optional[int] = None,
        rank: Optional[int] = None,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(dataset, batch_size, num_replicas, rank, shuffle, drop_last)
        labels = np.asarray(getattr(dataset, "labels", None))
        if labels.ndim != 1 or labels.size != len(dataset) or labels.dtype.kind not in "iu":
            raise ConfigError(
                f"ClassBalancedSampler draws classes of single-label lists: {type(dataset).__name__} has no int "
                f"class id per sample (a multi-label list? balance its labels with MultiLabelLoss's weight_ratio)"
            )
        self.seed = int(seed)
        self.classes, inverse = np.unique(labels, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        self.members: List[np.ndarray] = np.split(order, np.cumsum(np.bincount(inverse))[:-1])

    def draw(self, epoch: int) -> np.ndarray:
        """The sample indices of epoch `epoch` over all processes: int64 ``[total_size]``."""
        rng = np.random.default_rng([self.seed, epoch])
        base, extra = divmod(self.total_size, len(self.members))
        counts = base + (rng.permutation(len(self.members)) < extra)
        drawn = [rng.choice(members, size=count) for members, count in zip(self.members, counts)]
        return rng.permutation(np.concatenate(drawn)).astype(np.int64)

    def __iter__(self) -> Iterator[List[int]]:
        start = self.local_rank * self.num_samples
        share = self.draw(self.epoch)[start : start + self.num_samples].tolist()
        self.epoch += 1
        size = self.batch_size * self._acc_steps  # `DistributedBatchSampler`'s batch, as its __len__ counts
        for begin in range(0, len(share), size):
            batch = share[begin : begin + size]
            if len(batch) == size or not self.drop_last:
                yield batch
