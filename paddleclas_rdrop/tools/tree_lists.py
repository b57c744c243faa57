"""PaddleClas's `ImageNetDataset` reads its list file with `open()` and `split()`: a UTF-8 byte-order mark
becomes part of the first image's path, a GBK file is a `UnicodeDecodeError`, and a blank line an
`IndexError`. While PaddleClas's Engine builds its datasets in `reading_lists`, their list files are read
by the plugin's reader (`data.lists.parse_list_file`), the one both engines' start-up checks use."""

import contextlib


@contextlib.contextmanager
def reading_lists():
    """Within the context, `ppcls.data.dataloader.imagenet_dataset.ImageNetDataset._load_anno` reads with
    `parse_list_file` (PaddleClas's own `relabel` kept; a `seed` shuffle is left to PaddleClas's code); the
    original method is put back on leaving."""
    import numpy as np
    from ppcls.data.dataloader.imagenet_dataset import ImageNetDataset

    from ..adapter.patch import patched
    from .data.lists import parse_list_file

    original = ImageNetDataset._load_anno

    def load_anno(self, seed=None):
        if seed is not None:
            return original(self, seed)
        paths, labels, _ = parse_list_file(self._img_root, self._cls_path, self.delimiter)
        labels = [np.int64(label) for label in labels]
        if self.relabel:  # as PaddleClas's: new ids in the order of the set of old ones
            mapping = {old: new for new, old in enumerate(set(labels))}
            labels = [mapping[label] for label in labels]
        self.images, self.labels = list(paths), labels

    with patched(ImageNetDataset, _load_anno=load_anno):
        yield
