"""Multi-label targets in the two layouts PaddleClas's `MultiLabelDataset` gives a batch: ``[B, L]`` (one target
per label: 1, 0, or -1 for a label left out) or, with its `label_ratio: True`, ``[B, 2, L]`` (the targets and the
list's per-label positive ratio). Every reader of multi-label targets takes them through `multilabel_targets`."""


def multilabel_targets(label):
    """The targets ``[B, L]`` of `label` (a paddle tensor or a numpy array): ``label[:, 0, :]`` of a ``[B, 2, L]``
    label, `label` itself otherwise."""
    return label[:, 0, :] if label.ndim == 3 and label.shape[1] == 2 else label
