"""PaddleClas's list files, read and checked before training, so that a bad line, a missing image or a label
out of range is named with its file and line before anything is written. Both engines' start-up checks use
it. The format is the dataset class's (`LIST_FORMATS`): `ImageNetDataset` reads `relative/path label` (its
`delimiter`, a space by default), `MultiLabelDataset` `relative/path<TAB>0,1,0,...` (a tab, whatever the
config says: one 0/1 target per label, -1 for a label to leave out).

The check has to stay in seconds on ImageNet's 1.3M lines, often on a network file system: images
are found by listing each folder once (in parallel: one `readdir` per folder instead of one `stat`
per image), and image headers are opened for a seeded sample only. Every image is still decoded
in training, where `image_error` names an unreadable one with the same file and line."""

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from ...core.errors import DataError, one_line
from .text import not_found, read_lines, shown

HEADER_SAMPLE = 2000  # headers opened at start-up per list (all of a shorter list): ~0.1 s warm
LISTING_THREADS = 16  # folder listings at a time: the latency of a network file system hides


LIST_FORMATS = {"ImageNetDataset": False, "MultiLabelDataset": True}  # dataset class -> whether multi-label

# Very large images, one policy at train, eval and predict on both engines: they are decoded, up to the 2**30
# pixels (1.07 G) that cv2 decodes (its CV_IO_MAX_IMAGE_PIXELS). The images are decoded by cv2 everywhere
# (`decode`, PaddleClas's DecodeImage in both engines); PIL, which opens the headers here and in csv_to_lists
# (and decodes for PaddleClas's `DecodeImage: {backend: pil}`), refused 179 M pixels and more (twice its
# MAX_IMAGE_PIXELS) as a `DecompressionBombError` traceback. Its limit is raised to cv2's, deliberately: such an
# image costs 3 bytes a pixel decoded (546 MB at 182 M pixels, 3 GiB at 2**30), about twice that while cv2
# decodes a PNG, in each process that decodes it. An image over 2**30 pixels is refused in one line naming the
# list file and the line (`image_error`), at start-up for the headers opened, in training for the others.
MAX_IMAGE_PIXELS = 2**30
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS // 2  # PIL refuses above twice this, as cv2 above 2**30
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # decoded on purpose, above


def dataset_lists(config, splits=("Train", "Eval")):
    """(image_root, cls_label_path, delimiter, multilabel) of each of `splits` whose `DataLoader.<split>.dataset`
    is a dataset class of `LIST_FORMATS`, as that class reads its list (the other classes' lists have
    formats of their own, which their PaddleClas class reads)."""
    found = []
    for split in splits:
        dataset = ((config.get("DataLoader") or {}).get(split) or {}).get("dataset") or {}
        multilabel = LIST_FORMATS.get(dataset.get("name"))
        if multilabel is not None and "image_root" in dataset and "cls_label_path" in dataset:
            delimiter = "\t" if multilabel else dataset.get("delimiter") or " "
            found.append((dataset["image_root"], dataset["cls_label_path"], delimiter, multilabel))
    return found


# The samplers whose epoch is DistributedBatchSampler's, ceil(images / processes) samples per process (the
# standalone engine builds a DistributedBatchSampler for a section without a name and for BatchSampler too).
SPLIT_SAMPLERS = (None, "DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler")
RA_MULTIPLE = 256  # PaddleClas's RASampler takes floor(images / 256) * 256 images an epoch (ra_sampler.py)


def train_batches(config, processes, engine="standalone"):
    """What makes an epoch's steps on `processes` processes of `engine` ("standalone" or "paddleclas"):
    ``{"images", "batch_size", "processes", "drop_last", "sampler", "samples_per_process", "steps_per_epoch"}``
    of `DataLoader.Train`, as the engine's sampler counts them: ceil(images / processes) samples per process
    under the `SPLIT_SAMPLERS`, all the images on each process under PaddleClas's Engine for a sampler section
    without a name or with `BatchSampler` (its `build_dataloader` splits nothing there), and floor(images / 256)
    * 256 / processes under PaddleClas's `RASampler`. For another sampler (the retrieval ones) the samples and
    steps are None: not counted here. None where it names no list these tools read or no whole batch size."""
    import math

    sampler = ((config.get("DataLoader") or {}).get("Train") or {}).get("sampler") or {}
    batch_size, drop_last = sampler.get("batch_size"), bool(sampler.get("drop_last", False))
    name = sampler.get("name")
    lists = dataset_lists(config, ["Train"])
    if not (lists and isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > 0):
        return None
    images = len(parse_list_file(*lists[0])[0])
    if engine == "paddleclas" and name in (None, "BatchSampler"):
        per_process = images
    elif name in SPLIT_SAMPLERS:
        per_process = math.ceil(images / processes)
    elif name == "RASampler":
        per_process = images // RA_MULTIPLE * RA_MULTIPLE // processes
    else:
        per_process = None
    steps = None
    if per_process is not None:
        steps = per_process // batch_size if drop_last else math.ceil(per_process / batch_size)
    return {
        "images": images,
        "batch_size": batch_size,
        "processes": processes,
        "drop_last": drop_last,
        "sampler": name or "DistributedBatchSampler",
        "samples_per_process": per_process,
        "steps_per_epoch": steps,
    }


def read_list_file(image_root, list_path, delimiter=" ", multilabel=False):
    """(image paths, int labels, line numbers) of a list file. A bad line, a missing image, or an
    unreadable header in the sample names file and line; blank lines, skipped, are counted in one
    warning (the ppcls logger). `multilabel`: as for `parse_list_file`."""
    paths, labels, numbers = parse_list_file(image_root, list_path, delimiter, multilabel)
    blank = blank_lines(list_path)
    if blank:
        listed = ", ".join(map(str, blank[:5])) + (", ..." if len(blank) > 5 else "")
        logging.getLogger("ppcls").warning(f"{shown(list_path)}: skipped {len(blank)} blank line(s) ({listed})")
    _check_images_exist(paths, numbers, list_path, image_root)
    _check_sampled_headers(paths, numbers, list_path)
    return paths, labels, numbers


def parse_list_file(image_root, list_path, delimiter=" ", multilabel=False):
    """`read_list_file` without looking at the images: the lines alone (read by `text.read_lines`: UTF-8,
    a byte-order mark dropped), blank ones skipped, a bad one named. The labels are int64 ``[N]``, or with
    `multilabel` ``[N, L]`` (every line with the same L targets)."""
    if "ILSVRC2012" in str(list_path) and not os.path.exists(list_path):  # the recipes' own ImageNet lists
        raise DataError(
            f"{not_found(list_path, 'list file', 'cls_label_path')}: that is the recipe's ImageNet list; for your "
            f"own images add $(cat <your lists>/overrides.txt), which tools/csv_to_lists.py writes, to the command"
        )
    paths, labels, numbers = [], [], []
    prefix = os.path.join(image_root, "")  # os.path.join(image_root, name), as PaddleClas's, cheaper
    for number, line in read_lines(list_path, "list file", "cls_label_path"):
        if not line.strip():
            continue
        fields = line.strip().split(delimiter)
        label = _label(fields, multilabel)
        if label is None or (multilabel and labels and len(label) != len(labels[0])):
            expected = (
                "relative/path<TAB>0,1,0,... (one target per label, as many on every line)"
                if multilabel
                else ("relative/path label")
            )
            raise DataError(f"{shown(list_path)}:{number}: expected `{expected}`, got {line.strip()!r}")
        paths.append(fields[0] if fields[0].startswith("/") else prefix + fields[0])
        labels.append(label)
        numbers.append(number)
    if not paths:
        raise DataError(f"list file {shown(list_path)} has no images")
    labels, numbers = np.asarray(labels, dtype=np.int64), np.asarray(numbers, dtype=np.int64)
    if multilabel:
        check_targets(labels, numbers, list_path)
    return paths, labels, numbers


MULTILABEL_TARGETS = (1, 0, -1)  # has the label, has it not, left out (MultiLabelLoss's weight_ratio gives -1 weight 0)


def check_targets(labels, numbers, list_path):
    """Every multi-label target (`labels` ``[N, L]``, `numbers` the list's line numbers) is one of
    `MULTILABEL_TARGETS`; the first other one is a `DataError` naming its line, its label and the values taken (a
    BCE towards another value has no lower bound: a negative loss, trained without a word)."""
    bad = ~np.isin(labels, MULTILABEL_TARGETS)
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise DataError(
            f"{shown(list_path)}:{numbers[row]}: target {labels[row, column]} (label {column}) is not a multi-label "
            f"target: each is 1 (the image has the label), 0 (it has not) or -1 (left out)"
        )


def _label(fields, multilabel):
    """The label of a list line split into `fields`: an int, or with `multilabel` a list of ints; None when the
    line is not of that form."""
    if len(fields) != 2:
        return None
    targets = fields[1].split(",") if multilabel else [fields[1]]
    if not all(target.strip().lstrip("-").isdecimal() for target in targets):  # what int() takes
        return None
    return [int(target) for target in targets] if multilabel else int(targets[0])


def blank_lines(list_path):
    """The numbers of the blank lines of a list file (which `parse_list_file` skips)."""
    return [number for number, line in read_lines(list_path, "list file", "cls_label_path") if not line.strip()]


def _folder_entries(folder):
    try:
        return folder, frozenset(os.listdir(folder or "."))
    except OSError:  # missing, or not a folder: its images are missing
        return folder, frozenset()


def _check_images_exist(paths, numbers, list_path, image_root):
    """Each image is an entry of its folder's listing; the first one that is not is named."""
    split = [path.rpartition("/")[::2] for path in paths]
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        listings = dict(pool.map(_folder_entries, {folder for folder, _ in split}))
    for index, (folder, name) in enumerate(split):
        if name not in listings[folder]:
            raise DataError(
                f"{shown(list_path)}:{numbers[index]}: image {shown(paths[index])} not found (image_root is "
                f"{shown(image_root)})"
            )


def _check_sampled_headers(paths, numbers, list_path):
    """Open the headers of a seeded sample (every image of a short list): a format mistake across
    the data set shows at start-up, not hours into training."""
    indices = range(len(paths))
    if len(paths) > HEADER_SAMPLE:
        indices = np.sort(np.random.default_rng(0).choice(len(paths), HEADER_SAMPLE, replace=False))
    for index in indices:
        try:
            with Image.open(paths[index]):
                pass
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise image_error(list_path, numbers[index], paths[index], error) from None


def image_error(list_path, number, path, error):
    """The one error for an image that cannot be read, at start-up and in training alike."""
    if isinstance(error, Image.DecompressionBombError) or "CV_IO_MAX_IMAGE_PIXELS" in str(error):
        return DataError(
            f"{list_path}:{number}: image {path} has more than the {MAX_IMAGE_PIXELS} pixels cv2 decodes: "
            f"downscale it (at most 32768 x 32768) or remove its line"
        )
    return DataError(
        f"{list_path}:{number}: image {path} cannot be read ({one_line(error)}); replace it or remove its line"
    )


def check_label_range(labels, class_num, list_path, numbers=None, train=None):
    """Labels must be 0 .. class_num - 1: a negative one is named with its line (`numbers`: the list's line
    numbers), a too large one with the `Arch.class_num` that fits; multi-label targets (``[N, L]``) must be
    `class_num` per line, and where `train` (the run's train list and its labels, checked already) has
    `class_num`, another list without them is named against it. `DataError`."""
    if class_num is None or not len(labels):
        return
    if labels.ndim == 2:
        width, (train_path, train_labels) = labels.shape[1], train or (None, np.zeros((0, 0)))
        if width != class_num and train_labels.ndim == 2 and train_labels.shape[1] == class_num:
            raise DataError(
                f"{shown(list_path)} has {width} targets per line but the train list {shown(train_path)} has "
                f"{class_num} (Arch.class_num): give every line of {shown(list_path)} {class_num} targets, one per "
                f"label in the train list's order"
            )
        if width != class_num:
            raise DataError(
                f"{shown(list_path)} has {labels.shape[1]} targets per line but Arch.class_num is {class_num}: "
                f"set -o Arch.class_num={labels.shape[1]} (one output per label)"
            )
        return
    if labels.min() < 0:
        index = int(np.argmin(labels))
        where = f"{shown(list_path)}:{numbers[index]}" if numbers is not None else shown(list_path)
        raise DataError(
            f"{where}: label {labels[index]} is negative, but labels are class ids from 0 to Arch.class_num-1 "
            f"({class_num - 1}): number the classes from 0"
        )
    if labels.max() >= class_num:
        raise DataError(
            f"{shown(list_path)} has labels from {labels.min()} to {labels.max()} but Arch.class_num is "
            f"{class_num}: set -o Arch.class_num={labels.max() + 1} (labels must be 0 .. class_num-1)"
        )


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")  # PaddleClas's image files, matched whatever their case


def unreadable_images(failed, total):
    """The `DataError` of a prediction over `total` images of which `failed` (paths) could not be read or
    decoded, the others having been predicted."""
    return DataError(
        f"{len(failed)} of {total} images could not be read (the first: {failed[0]}); the others were predicted"
    )


def decode(path):
    """The image at `path` as BGR `[H, W, 3]` uint8, decoded as PaddleClas's `DecodeImage` decodes it
    (`cv2.imdecode` of the file's bytes, so any path the OS takes), or None when it is missing or does not
    decode."""
    import cv2

    try:
        return cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    except (OSError, ValueError, cv2.error):
        return None


def image_files(where, key="Infer.infer_imgs"):
    """(images, skipped) at `where`, an image file or a folder (walked, sorted): `skipped` lists
    `(path, why)` for every other file, so that nothing is left out without a word. Raises `DataError`
    (naming `key`) for a missing path, a file that is not an image, or a folder without images."""
    kinds = ", ".join(extension[1:] for extension in IMAGE_EXTENSIONS)
    nothing = DataError(f"{key}: no image ({kinds}) at {where!r}: set -o {key} to an image file or a folder of them")
    if not where or not os.path.exists(where):
        raise nothing
    why = f"not an image file ({kinds})"
    if os.path.isfile(where):
        if not where.lower().endswith(IMAGE_EXTENSIONS):
            raise DataError(f"{key}: {where} is {why}")
        return [where], []
    images, skipped = [], []
    for root, _, files in os.walk(where):
        for name in files:
            path = os.path.join(root, name)
            (images if name.lower().endswith(IMAGE_EXTENSIONS) else skipped).append(path)
    if not images:
        raise nothing
    return sorted(images), [(path, why) for path in sorted(skipped)]
