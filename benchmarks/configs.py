"""R-Drop on every YAML of PaddleClas's config tree: each config with the three R-Drop entries added
(`Global.train_mode: rdrop`, an `RDrop` section with its defaults, an `RDropLoss` entry, alpha 3,
batchmean), shrunk (generated images in the format of its dataset class: 4 per training loader, 12 per
eval loader; batch 4; every size of the data pipeline scaled to the px `benchmarks/backbones.py` ran its
backbone at; 1 epoch; no pretrained weights; CPU; no data-loader workers) and trained for one step by the
project's `tools/train.py`, on PaddleClas's Engine and on the standalone engine.

    export PADDLECLAS_ROOT=/work/shared/PaddleClas   # the tree whose configs are swept (develop d178931)
    nohup nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/configs.py --run > configs.log 2>&1 &
    python benchmarks/configs.py --run --only multi-label,distillation   # kinds again (or globs of paths)
    python benchmarks/configs.py --run --only 'ImageNet/ResNet/*' --limit 4 --results /tmp/trial.jsonl
    python benchmarks/configs.py --report                                 # docs/configs.md
    python benchmarks/configs.py --derive PULC/car_exists/PPLCNet_x1_0_distillation.yaml /tmp/c   # one row's
    python tools/train.py -c /tmp/c/rdrop/config.yaml    # YAMLs and data (/tmp/c/baseline: without R-Drop)

Each (config, engine) gets one record in benchmarks/results/configs.jsonl, written as soon as it is known
(the last record of a key wins; `--run` skips the keys it holds, `--only` runs its configs again):
- `trains`: exit 0, an `RDropLoss` > 0 in the step log, on the distribution the config needs (`bernoulli`
  with `Global.use_multilabel`, else `softmax`), read from the tool's `R-Drop KL: <name>` token; a run that
  does not declare it counts as softmax, so a multi-label run without it is `wrong_kl`.
- `refused`: one line `error: ...`, exit 1, no traceback, which the same config without R-Drop does not get.
- `unrelated`: the same shrunk config without R-Drop's entries fails the same way through the plugin's
  `tools/train.py`; on PaddleClas's Engine the record also says what PaddleClas's own `tools/train.py`
  makes of that config (`paddleclas_own`).
- anything else: `traceback` (its type and first line), `timeout`, `crash` (killed by a signal), `no_kl`
  (exit 0 without an `RDropLoss` > 0), `wrong_kl`. The project's goal is none of them.

The runs are forks of a server per engine that has imported paddle and PaddleClas (`tests/forks.py`),
one at a time; each run's folder is removed once its record is written.
"""

import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict

import yaml

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "tests"))
import forks  # noqa: E402

RESULTS = os.path.join(PROJECT, "benchmarks", "results", "configs.jsonl")
BACKBONES = os.path.join(PROJECT, "benchmarks", "results", "backbones.jsonl")
REPORT = os.path.join(PROJECT, "docs", "configs.md")
TRAIN = os.path.join(PROJECT, "tools", "train.py")
ENGINES = ("paddleclas", "standalone")  # the standalone engine runs with PADDLECLAS_ROOT empty
TIMEOUT = 900  # s for one tool run
OWN_TIMEOUT = 300  # s for PaddleClas's own tools/train.py on a config the plugin's tools fail without R-Drop
IMAGES = 4  # per training loader: 2 classes (identities) x 2 images, one batch of 4
EVAL_IMAGES = 12  # per eval loader (Eval, Gallery, Query): recall@10 needs 10 in the gallery
BATCH = 4
ALPHA = 3.0
CLASS_CAP = 10000  # a class count above it (ArcMargin over 185341 products) becomes CAPPED_CLASSES
CAPPED_CLASSES = 1000
RESULT_ORDER = ("trains", "refused", "unrelated", "wrong_kl", "no_kl", "traceback", "crash", "timeout")
KIND_ORDER = (
    "single-label",
    "multi-label",
    "distillation",
    "multi-label distillation",
    "retrieval/recognition",
    "metric learning",
    "reid",
    "hashing",
    "face",
    "ssl",
    "not a training config",
)
METRIC_LOSSES = {
    "TripletLoss",
    "TripletLossV2",
    "SupConLoss",
    "ContrastiveLoss_XBM",
    "PairwiseCosface",
    "TripletAngularMarginLoss",
    "CenterLoss",
    "MSMLoss",
    "NpairsLoss",
    "EmlLoss",
}
HASH_LOSSES = {"DSHSDLoss", "LCDSHLoss", "DCHLoss"}
PERSON_DATASETS = {"Market1501": "market1501/Market-1501-v15.09.15", "DukeMTMC": "dukemtmc/DukeMTMC-reID"}
SIZE_KEYS = {"size", "resize_short", "img_size", "length", "d1", "d2", "progress_size", "padding", "pad", "scales"}
ARCH_SIZE_KEYS = {"img_size", "image_size", "input_size", "resolution"}


def tree_root():
    """The PaddleClas source tree whose configs are swept (PADDLECLAS_ROOT)."""
    root = os.environ.get("PADDLECLAS_ROOT")
    if not root or not os.path.isdir(os.path.join(root, "ppcls", "configs")):
        sys.exit("set PADDLECLAS_ROOT to a PaddleClas source tree (its ppcls/configs is swept)")
    return root


def config_paths(root):
    """{path under ppcls/configs: absolute path} of every YAML of the tree."""
    base = os.path.join(root, "ppcls", "configs")
    found = {}
    for folder, _, files in os.walk(base):
        for name in files:
            if name.endswith(".yaml"):
                path = os.path.join(folder, name)
                found[os.path.relpath(path, base)] = path
    return dict(sorted(found.items()))


def load(path):
    """The YAML at `path` as a dict ({} for anything else)."""
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return data if isinstance(data, dict) else {}


def loss_names(config):
    """The names of the `Loss.Train` entries."""
    entries = (config.get("Loss") or {}).get("Train") or []
    return [next(iter(entry)) for entry in entries if isinstance(entry, dict) and entry]


def train_dataset(config):
    """The name of `DataLoader.Train.dataset` (None without one)."""
    train = (config.get("DataLoader") or {}).get("Train") or {}
    return (train.get("dataset") or {}).get("name") if isinstance(train, dict) else None


def kind_of(config):
    """The config's kind, read from its keys (the order of the tests is the precedence)."""
    glob_ = config.get("Global") or {}
    arch = config.get("Arch") or {}
    losses = set(loss_names(config))
    loaders = config.get("DataLoader") or {}
    distill = arch.get("name") == "DistillationModel" or any(name.startswith("Distillation") for name in losses)
    if not loaders or not arch or not train_dataset(config):
        return "not a training config"
    if str(glob_.get("train_mode", "")).startswith("fixmatch") or "UnLabelTrain" in loaders:
        return "ssl"
    if glob_.get("use_multilabel"):
        return "multi-label distillation" if distill else "multi-label"
    if distill:
        return "distillation"
    if losses & HASH_LOSSES:
        return "hashing"
    if glob_.get("eval_mode") == "adaface" or train_dataset(config) == "AdaFaceDataset":
        return "face"
    if train_dataset(config) in PERSON_DATASETS or glob_.get("train_mode") == "metabin":
        return "reid"
    if losses & METRIC_LOSSES:
        return "metric learning"
    if glob_.get("eval_mode") == "retrieval" or arch.get("name") == "RecModel":
        return "retrieval/recognition"
    return "single-label"


def expected_kl(config):
    """The distribution R-Drop's KL must compare: `bernoulli` for a multi-label config, else `softmax`."""
    return "bernoulli" if (config.get("Global") or {}).get("use_multilabel") else "softmax"


def sweep_order(paths, kinds):
    """The configs round-robin over kinds, and within a kind over folders: a first picture of every kind."""
    by_kind = defaultdict(lambda: defaultdict(list))
    for rel in paths:
        by_kind[kinds[rel]][os.path.dirname(rel)].append(rel)
    queues = {kind: round_robin(list(folders.values())) for kind, folders in by_kind.items()}
    return round_robin([queues[kind] for kind in sorted(queues, key=kind_rank)])


def round_robin(lists):
    """The items of `lists` taken one from each in turn."""
    order, lists = [], [list(items) for items in lists]
    while any(lists):
        for items in lists:
            if items:
                order.append(items.pop(0))
    return order


def kind_rank(kind):
    """A kind's place in the tables."""
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def backbone_sizes():
    """{backbone: px} where `benchmarks/backbones.py` found the size an eval forward runs at."""
    sizes = {}
    if os.path.exists(BACKBONES):
        with open(BACKBONES) as handle:
            for line in handle:
                record = json.loads(line)
                sizes[record["name"]] = record.get("size")
    return sizes


def model_names(arch):
    """The backbone names a config's Arch builds (RecModel's Backbone, DistillationModel's models)."""
    names = [arch.get("name")]
    backbone = arch.get("Backbone")
    if isinstance(backbone, dict):
        names.append(backbone.get("name"))
    for model in arch.get("models") or []:
        for sub in model.values() if isinstance(model, dict) else []:
            if isinstance(sub, dict):
                names += model_names(sub)
    return [name for name in names if name]


def target_size(config, sizes):
    """The px to train at: the largest of the sizes `backbones.py` found for the config's backbones, or
    None (keep the config's own) when a backbone has none or the Arch itself names an input size."""
    arch = config.get("Arch") or {}
    if any(key in ARCH_SIZE_KEYS for key, _ in walk_items(arch)):
        return None
    found = [sizes.get(name) for name in model_names(arch) if name not in ("RecModel", "DistillationModel")]
    if not found or any(size is None for size in found):
        return None
    return max(found)


def walk_items(node):
    """Every (key, value) of the dicts nested in `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk_items(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_items(item)


def base_size(config):
    """The config's training resolution: the smaller side of `Global.image_shape`, else the first crop size."""
    shape = (config.get("Global") or {}).get("image_shape")
    if isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) for v in shape[1:]):
        return min(shape[1:])
    for key, value in walk_items(config.get("DataLoader") or {}):
        if key == "size" and isinstance(value, int):
            return value
    return None


def scaled(value, factor):
    """`value` (a number or nested list of them) times `factor`, as ints of at least 1."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return max(1, int(round(value * factor)))
    if isinstance(value, list):
        return [scaled(item, factor) for item in value]
    return value


def rescale(node, factor):
    """Scale every size-like key (`SIZE_KEYS`) nested in `node` by `factor`, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SIZE_KEYS and not isinstance(value, (dict, str)):
                node[key] = scaled(value, factor)
            else:
                rescale(value, factor)
    elif isinstance(node, list):
        for item in node:
            rescale(item, factor)


def largest_size(node):
    """The largest number under a size-like key in `node` (0 when none)."""
    numbers = [0]
    for key, value in walk_items(node):
        if key in SIZE_KEYS:
            numbers += [v for v in flat_numbers(value)]
    return max(numbers)


def flat_numbers(value):
    """The numbers in `value` (a number or nested lists)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [number for item in value for number in flat_numbers(item)]
    return []


def shrink(config, run, sizes):
    """The config shrunk in place for one CPU step in `run`: returns (px trained at, notes of what else
    changed). Data paths are set by `write_data`."""
    notes = []
    glob_ = config.setdefault("Global", {})
    glob_.update(
        device="cpu",
        epochs=1,
        pretrained_model=None,
        checkpoints=None,
        output_dir=os.path.join(run, "output"),
        save_inference_dir=os.path.join(run, "inference"),
        print_batch_step=1,
        save_interval=1000,
        eval_interval=1,
        use_visualdl=False,
    )
    for key, value in (("use_dali", False), ("start_eval_epoch", 0), ("iter_per_epoch", 1)):
        if key in glob_:
            glob_[key] = value
    for node in dicts_with(config.get("Arch") or {}, "pretrained"):
        node["pretrained"] = False
    notes += cap_classes(config)
    px = shrink_resolution(config, sizes)
    if (config.get("AMP") or {}).get("level") == "O2":
        config["AMP"]["level"] = "O1"
        notes.append("AMP O2 -> O1 (O2 casts the model to fp16, which the CPU does not run)")
    for loader in loaders(config):
        shrink_loader(loader)
    return px, notes


def shrink_resolution(config, sizes):
    """Scale every size of the data pipeline and `Global.image_shape` to the backbone's px; the px trained at."""
    base = base_size(config)
    target = target_size(config, sizes)
    if not base or not target or target >= base:
        return base
    factor = target / base
    for loader in loaders(config):
        rescale(loader, factor)
    shape = (config.get("Global") or {}).get("image_shape")
    if isinstance(shape, list) and len(shape) == 3:
        config["Global"]["image_shape"] = [shape[0]] + scaled(shape[1:], factor)
    return target


def cap_classes(config):
    """Class counts above CLASS_CAP (ArcMargin heads over 1e5 products) become CAPPED_CLASSES everywhere."""
    big = {
        v for k, v in walk_items(config) if k in ("class_num", "num_classes") and isinstance(v, int) and v > CLASS_CAP
    }
    if not big:
        return []
    for key in ("class_num", "num_classes"):
        for node in dicts_with(config, key):
            if node[key] in big:
                node[key] = CAPPED_CLASSES
    return [f"class_num {sorted(big)} -> {CAPPED_CLASSES}"]


def dicts_with(node, key):
    """The dicts nested in `node` (itself included) that hold `key`."""
    found = []
    if isinstance(node, dict):
        if key in node:
            found.append(node)
        for value in node.values():
            found += dicts_with(value, key)
    elif isinstance(node, list):
        for item in node:
            found += dicts_with(item, key)
    return found


def loaders(config):
    """The loader specs of `DataLoader` (dicts with a `dataset`), Gallery/Query ones included."""
    return dicts_with(config.get("DataLoader") or {}, "dataset")


def shrink_loader(loader):
    """Batch of BATCH, 2 images per identity, no workers."""
    sampler = loader.get("sampler") or {}
    for key in ("batch_size", "first_bs"):
        if key in sampler:
            sampler[key] = BATCH
    for key in ("num_instances", "sample_per_id", "sample_per_label"):
        if key in sampler:
            sampler[key] = 2
    if "max_iters" in sampler:
        sampler["max_iters"] = 1
    if sampler.get("scales"):  # MultiScaleSampler floors each scale to a multiple of divided_factor
        factor = sampler.get("divided_factor", 32)
        sampler["scales"] = [scaled_to_multiple(scale, factor) for scale in sampler["scales"]]
    loader.setdefault("loader", {})
    if isinstance(loader["loader"], dict):
        loader["loader"].update(num_workers=0, use_shared_memory=False)


def scaled_to_multiple(value, factor):
    """`value` (a number or a list of them) rounded to a multiple of `factor`, at least `factor`."""
    if isinstance(value, list):
        return [scaled_to_multiple(item, factor) for item in value]
    return max(factor, int(round(value / factor)) * factor)


def class_count(config):
    """The first class count of the Arch (its label vector's length for a multi-label config)."""
    for key, value in walk_items(config.get("Arch") or {}):
        if key == "class_num" and isinstance(value, int):
            return value
    return 1000


def write_data(config, run):
    """Generate the images and lists of every loader of `config` under `run/data` and point it at them:
    IMAGES for a training loader, EVAL_IMAGES for the others (a retrieval eval's recall@k needs k in its
    gallery). Returns notes of what could not be generated (that loader's use turned off)."""
    notes = []
    side = max(16, int(largest_size(config.get("DataLoader") or {})))
    labels = class_count(config)
    for index, (split, loader) in enumerate(named_loaders(config)):
        folder = os.path.join(run, "data", str(index))
        os.makedirs(folder, exist_ok=True)
        dataset = loader["dataset"]
        writer = DATASET_WRITERS.get(dataset.get("name"))
        if writer is None:
            notes.append(f"no data for {dataset.get('name')}")
            continue
        count = IMAGES if "Train" in split or split == "Metalearning" else EVAL_IMAGES
        note = writer(dataset, folder, side, labels, count)
        if note and note not in notes:
            notes.append(note)
    if any(n.startswith("no data for FiveValidationDataset") for n in notes):
        config["Global"]["eval_during_train"] = False
        notes.append("Global.eval_during_train False (its eval data, bcolz arrays, is not generated)")
    return notes


def named_loaders(config):
    """(split, loader spec) of `DataLoader`: `Train`, `Eval`, `Eval.Gallery`, ..."""
    found = []
    for split, spec in (config.get("DataLoader") or {}).items():
        if isinstance(spec, dict) and "dataset" in spec:
            found.append((split, spec))
        elif isinstance(spec, dict):
            found += [
                (f"{split}.{sub}", inner)
                for sub, inner in spec.items()
                if isinstance(inner, dict) and "dataset" in inner
            ]
    return found


def label_of(i):
    """The class (identity) of generated image `i`: 2 images each, alternating between 2 classes."""
    return (i // 2) % 2


def write_images(folder, names, side):
    """Random RGB JPEGs `side` px square, one per name (a path under `folder`)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(len(names))
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=90)


def write_list(folder, lines):
    """`lines` written to `folder/list.txt`; its path."""
    path = os.path.join(folder, "list.txt")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def single_label_data(dataset, folder, side, labels, count, tab=False):
    """ImageNetDataset-like lists: `path label` (the dataset's delimiter, or a tab), 2 classes x 2."""
    names = [f"images/{i}.jpg" for i in range(count)]
    write_images(folder, names, side)
    delimiter = "\t" if tab else (dataset.get("delimiter") or " ")
    lines = [f"{name}{delimiter}{label_of(i)}" for i, name in enumerate(names)]
    dataset.update(image_root=folder, cls_label_path=write_list(folder, lines))


def icartoon_data(dataset, folder, side, labels, count):
    """ICartoonDataset: `path<TAB>label`."""
    single_label_data(dataset, folder, side, labels, count, tab=True)


def vehicle_data(dataset, folder, side, labels, count):
    """VeriWild: `path label camera`; CompCars: `path label` (+ a bbox file per image with bbox_crop)."""
    names = [f"images/{i}.jpg" for i in range(count)]
    write_images(folder, names, side)
    camera = dataset.get("name") == "VeriWild"
    lines = [f"{name} {label_of(i)}" + (f" {i % 2}" if camera else "") for i, name in enumerate(names)]
    dataset.update(image_root=folder, cls_label_path=write_list(folder, lines))
    if dataset.get("name") == "CompCars" and dataset.get("bbox_crop"):
        dataset["label_root"] = os.path.join(folder, "labels")
        for name in names:
            path = os.path.join(folder, "labels", name.split(".")[0] + ".txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(f"1\n0 0 {side} {side}\n")


def multilabel_data(dataset, folder, side, labels, count):
    """MultiLabelDataset: `path<TAB>0,1,0,...` over the Arch's class count."""
    names = [f"images/{i}.jpg" for i in range(count)]
    write_images(folder, names, side)
    lines = []
    for i, name in enumerate(names):
        vector = [(j + i) % 2 for j in range(labels)]
        lines.append(f"{name}\t{','.join(map(str, vector))}")
    dataset.update(image_root=folder, cls_label_path=write_list(folder, lines))


def custom_label_data(dataset, folder, side, labels, count):
    """CustomLabelDataset: a path per line (its label comes from a transform)."""
    names = [f"images/{i}.jpg" for i in range(count)]
    write_images(folder, names, side)
    dataset.update(image_root=folder, sample_list_path=write_list(folder, names))


def adaface_data(dataset, folder, side, labels, count):
    """AdaFaceDataset: `path label` under root_dir."""
    names = [f"images/{i}.jpg" for i in range(count)]
    write_images(folder, names, side)
    lines = [f"{name} {label_of(i)}" for i, name in enumerate(names)]
    dataset.update(root_dir=folder, label_path=write_list(folder, lines))


def person_data(dataset, folder, side, labels, count):
    """Market1501 / DukeMTMC: `<pid>_c<camera>s1_..jpg` files in image_root/<dataset dir>/<cls_label_path>."""
    sub = dataset.get("cls_label_path") or "bounding_box_train"
    folder_name = PERSON_DATASETS[dataset["name"]]
    names = [f"{folder_name}/{sub}/{1 + label_of(i):04d}_c{1 + i % 2}s1_{i:06d}_00.jpg" for i in range(count)]
    write_images(folder, names, side)
    dataset.update(image_root=folder, cls_label_path=sub)


def cifar_data(dataset, folder, side, labels, count):
    """Cifar10 / Cifar100: a tar.gz of pickled batches (`data_batch` / `test_batch`, `train` / `test`), 4 images."""
    import io
    import pickle
    import tarfile

    import numpy as np

    ten = dataset["name"] == "Cifar10"
    mode = dataset.get("mode", "train")
    member = ("data_batch_1" if mode == "train" else "test_batch") if ten else mode
    batch = {
        b"data": np.random.default_rng(0).integers(0, 256, size=(count, 3072), dtype=np.uint8),
        (b"labels" if ten else b"fine_labels"): [label_of(i) for i in range(count)],
    }
    path = os.path.join(folder, "cifar.tar.gz")
    payload = pickle.dumps(batch)
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"cifar/{member}")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    dataset.update(data_file=path, download=False)
    for key in ("sample_per_label",):
        dataset.pop(key, None)
    if "expand_labels" in dataset:
        dataset["expand_labels"] = 1
    return "Cifar: sample_per_label removed (4 images)"


def five_validation_data(dataset, folder, side, labels, count):
    """FiveValidationDataset reads bcolz arrays of five face benchmarks: not generated."""
    return "no data for FiveValidationDataset"


DATASET_WRITERS = {
    "ImageNetDataset": single_label_data,
    "MultiScaleDataset": single_label_data,
    "ICartoonDataset": icartoon_data,
    "VeriWild": vehicle_data,
    "CompCars": vehicle_data,
    "MultiLabelDataset": multilabel_data,
    "CustomLabelDataset": custom_label_data,
    "AdaFaceDataset": adaface_data,
    "Market1501": person_data,
    "DukeMTMC": person_data,
    "Cifar10": cifar_data,
    "Cifar100": cifar_data,
    "FiveValidationDataset": five_validation_data,
}


def with_rdrop(config):
    """A copy of `config` with R-Drop's three entries: train_mode, the RDrop section, the RDropLoss entry."""
    derived = json.loads(json.dumps(config))
    derived.setdefault("Global", {})["train_mode"] = "rdrop"
    derived["RDrop"] = {"passes": 2, "strategy": "auto"}
    loss = derived.setdefault("Loss", {}) or {}
    derived["Loss"] = loss
    train = loss.get("Train") or []
    entry = {"weight": ALPHA, "reduction": "batchmean"}
    student = trained_network(derived.get("Arch") or {})
    if student is not None:  # a DistillationModel: R-Drop names the network it regularises, as a user must
        entry["model_name"] = student
    loss["Train"] = train + [{"RDropLoss": entry}]
    return derived


def trained_network(arch):
    """The network of a `DistillationModel` `arch` that trains: its `infer_model_name`, else the first one
    `freeze_params_list` leaves trainable; None for any other model."""
    if arch.get("name") != "DistillationModel":
        return None
    names = [name for entry in arch.get("models") or [] if isinstance(entry, dict) for name in entry]
    frozen = list(arch.get("freeze_params_list") or [])
    trained = [name for i, name in enumerate(names) if not (i < len(frozen) and frozen[i])]
    return arch.get("infer_model_name") or (trained[0] if trained else None)


def write_yaml(config, path):
    """`config` as YAML at `path` (folders made)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


def run_tool(yaml_path, engine, root, timeout):
    """`tools/train.py -c yaml_path` on `engine` in a fork (`forks.run`): (exit code or "timeout", stdout,
    stderr, seconds)."""
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PADDLECLAS_ROOT": root if engine == "paddleclas" else ""}
    env.pop("PADDLECLAS_RDROP_TRACEBACK", None)
    command = [sys.executable, TRAIN, "-c", yaml_path]
    started = time.perf_counter()
    try:
        result = forks.run(command, cwd=os.path.dirname(yaml_path), env=env, timeout=timeout)
        code, out, err = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired:
        code, out, err = "timeout", "", ""
    return code, out, err, round(time.perf_counter() - started, 1)


STEP = re.compile(r"\[Train\]\[Epoch \d+/\d+\]\[Iter: \d+/\d+\].*?RDropLoss: ([-\d.eE+naif]+)")
KL_TOKEN = re.compile(r"R-Drop KL: (softmax|bernoulli)")
MORE_STEPS = 4  # the steps of a run again whose one step's KL read 0
KL_SHARE = re.compile(r"\[R-Drop\] alpha x KL is ([\d.eE+-]+%) of the training loss")
FRAME = re.compile(r'^  File "(.*)", line (\d+), in (.*)$')


def failure(code, out, err):
    """The signature of a failed run: (result, one line, innermost frame or None)."""
    if code == "timeout":
        return "timeout", "no result within the timeout", None
    if isinstance(code, int) and code < 0:
        return "crash", f"killed by signal {-code}", None
    if "Traceback (most recent call last):" in err:
        line, frame, plugin = traceback_line(err)
        return "traceback", line, {"innermost": frame, "plugin": plugin}
    lines = [line for line in err.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit {code}, nothing on stderr"
    if last.startswith("error: "):
        return "refused", last, None
    return "traceback", f"exit {code}: {last[:300]}", None


def traceback_line(err):
    """The last traceback of `err`: (`Type: first line`, its innermost frame, its innermost plugin frame)."""
    block = err.rsplit("Traceback (most recent call last):", 1)[1].splitlines()
    frames, line = [], "a traceback without an exception line"
    for text in block[1:]:
        match = FRAME.match(text)
        if match:
            frames.append(f"{short_path(match.group(1))}:{match.group(2)} {match.group(3)}")
        elif text and not text.startswith(" "):
            line = text.strip()
            break
    plugin = [frame for frame in frames if frame.startswith("paddleclas_rdrop/")]
    return line[:400], frames[-1] if frames else None, plugin[-1] if plugin else None


def short_path(path):
    """A frame's file from the package folder on (paddleclas_rdrop/..., ppcls/..., paddle/...)."""
    for marker in ("paddleclas_rdrop/", "ppcls/", "paddle/", "site-packages/"):
        if marker in path:
            return marker + path.rsplit(marker, 1)[1] if marker != "site-packages/" else path.rsplit(marker, 1)[1]
    return path


def normalized(line, run):
    """`line` without the run's folder (the R-Drop run and its baseline have their own)."""
    for folder in (os.path.join(run, "rdrop"), os.path.join(run, "baseline"), run):
        line = line.replace(folder, "<run>")
    return line


def used_kl(kl):
    """The KL a run used, from its `R-Drop KL:` token (`undeclared`: softmax)."""
    return kl if kl != "undeclared" else "softmax"


def outcome(code, out, err, expected):
    """A finished R-Drop run's record fields (without the baseline)."""
    text = out + "\n" + err
    if code != 0:
        result, line, frames = failure(code, out, err)
        record = {"result": result, "detail": line}
        if frames:
            record.update(frames)
        return record
    losses = [float(v) for v in STEP.findall(text)]
    declared = KL_TOKEN.findall(text)
    kl = declared[-1] if declared else "undeclared"
    record = {"rdrop_loss": losses[0] if losses else None, "kl": kl, "expected_kl": expected}
    shares = KL_SHARE.findall(text)
    if shares:
        record["kl_share"] = shares[-1]
    shown = bool(shares) and float(shares[-1].rstrip("%")) > 0  # the epoch line shows a KL below 5 decimals
    if losses and not any(v > 0 for v in losses) and shown and used_kl(kl) == expected:
        return {
            **record,
            "result": "trains",
            "detail": f"RDropLoss below 5 decimals, {shares[-1]} of the loss, KL {kl}",
        }
    if not losses or not any(v > 0 for v in losses):
        share = f"; the tool's epoch line: alpha x KL is {shares[-1]} of the loss" if shares else ""
        return {
            **record,
            "result": "no_kl",
            "detail": f"exit 0; RDropLoss in the step lines: {losses or 'none'}{share}",
        }
    used = used_kl(kl)
    if used != expected:
        return {**record, "result": "wrong_kl", "detail": f"KL {kl} (counted as {used}), expected {expected}"}
    first = next(v for v in losses if v > 0)
    return {**record, "result": "trains", "detail": f"RDropLoss {first:.4g}, KL {kl}"}


def check_config(rel, path, engine, root, sizes, timeout, work):
    """One (config, engine): derive, run, on a failure run the baseline; the record."""
    config = load(path)
    kind, expected = kind_of(config), expected_kl(config)
    original_mode = (config.get("Global") or {}).get("train_mode")
    run = tempfile.mkdtemp(prefix="run-", dir=work)
    record = {"config": rel, "engine": engine, "kind": kind, "expected_kl": expected, "run": RUN_ID}
    try:
        if original_mode:
            record["train_mode_replaced"] = original_mode
        px, notes = shrink(config, os.path.join(run, "rdrop"), sizes)
        notes += write_data(config, run)
        record.update(px=px, notes=notes)
        code, out, err, seconds = run_tool(
            write_yaml(with_rdrop(config), os.path.join(run, "rdrop", "config.yaml")), engine, root, timeout
        )
        record.update(outcome(code, out, err, expected), seconds=seconds)
        if record["result"] == "no_kl":  # one step's drop draw on 4 images can leave both passes alike
            record.update(more_steps(config, run, engine, root, timeout, expected))
        record["detail"] = normalized(record["detail"], run)
        if record["result"] in ("refused", "traceback", "crash"):
            record.update(baseline_verdict(config, run, engine, root, timeout, record))
    except Exception as error:  # the sweep's own fault on this config: recorded, the sweep goes on
        record.update(result="sweep_error", detail=f"{type(error).__name__}: {error}"[:300])
    finally:
        shutil.rmtree(run, ignore_errors=True)
    return record


def more_steps(config, run, engine, root, timeout, expected, epochs=MORE_STEPS):
    """The outcome of the R-Drop config of a `no_kl` run again over `epochs` steps (an epoch is one step), each
    with its own draw of the model's stochastic layers: `trains` if a step's KL is > 0, with `steps`."""
    longer = with_rdrop(config)
    longer["Global"].update(epochs=epochs, output_dir=os.path.join(run, "longer", "output"))
    code, out, err, _ = run_tool(write_yaml(longer, os.path.join(run, "longer", "config.yaml")), engine, root, timeout)
    again = outcome(code, out, err, expected)
    if again["result"] != "trains":
        return {"steps": epochs}
    return {**again, "steps": epochs, "detail": f"KL 0 at step 1, > 0 within {epochs} steps: {again['detail']}"}


def derive(rel, folder):
    """Write the R-Drop and baseline YAMLs of config `rel` and their data under `folder`, to reproduce a row:
    `python tools/train.py -c <folder>/rdrop/config.yaml`."""
    config = load(config_paths(tree_root())[rel])
    folder = os.path.abspath(folder)
    px, notes = shrink(config, os.path.join(folder, "rdrop"), backbone_sizes())
    notes += write_data(config, folder)
    write_yaml(with_rdrop(config), os.path.join(folder, "rdrop", "config.yaml"))
    config["Global"]["output_dir"] = os.path.join(folder, "baseline", "output")
    write_yaml(config, os.path.join(folder, "baseline", "config.yaml"))
    print(f"{folder}/rdrop/config.yaml and {folder}/baseline/config.yaml; {px} px; {notes}")


def baseline_verdict(config, run, engine, root, timeout, record):
    """Run the same shrunk config without R-Drop; `unrelated` when it fails the same way."""
    base = json.loads(json.dumps(config))
    base["Global"]["output_dir"] = os.path.join(run, "baseline", "output")
    base["Global"]["save_inference_dir"] = os.path.join(run, "baseline", "inference")
    code, out, err, seconds = run_tool(
        write_yaml(base, os.path.join(run, "baseline", "config.yaml")), engine, root, timeout
    )
    if code == 0:
        return {"baseline": "trains", "baseline_seconds": seconds}
    result, line, _ = failure(code, out, err)
    line = normalized(line, run)
    fields = {"baseline": f"{result}: {line}", "baseline_seconds": seconds}
    if same_failure(line, record["detail"]):
        fields.update(result="unrelated", rdrop_result=record["result"])
        if engine == "paddleclas":
            fields["paddleclas_own"] = paddleclas_own(base, run, root, timeout)
    return fields


def same_failure(baseline, rdrop):
    """Whether two failure lines say the same: equal, or one quotes the other (the tools' one-line error that
    names a model's exception, `(NameError: ...)`, and that exception's traceback without R-Drop)."""
    return baseline == rdrop or (len(baseline) > 20 and baseline in rdrop) or (len(rdrop) > 20 and rdrop in baseline)


def paddleclas_own(config, run, root, timeout):
    """What PaddleClas's own `tools/train.py` (a new interpreter) makes of the config without R-Drop: "trains"
    or its failure line. It tells a fault of PaddleClas (or of the generated data) from the plugin's tools'."""
    import subprocess

    own = json.loads(json.dumps(config))
    own["Global"]["output_dir"] = os.path.join(run, "own", "output")
    own["Global"]["save_inference_dir"] = os.path.join(run, "own", "inference")
    path = write_yaml(own, os.path.join(run, "own", "config.yaml"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PADDLECLAS_ROOT": root}
    command = [sys.executable, os.path.join(root, "tools", "train.py"), "-c", path]
    try:
        result = subprocess.run(
            command,
            cwd=os.path.dirname(path),
            env=env,
            capture_output=True,
            text=True,
            timeout=min(timeout, OWN_TIMEOUT),
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if result.returncode == 0:
        return "trains"
    line = " ".join(failure(result.returncode, result.stdout, result.stderr)[:2])
    return normalized(line.replace(os.path.join(run, "own"), "<run>"), run)


def read_results():
    """{(config, engine): record}, the last record of a key winning."""
    records = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    records[(record["config"], record["engine"])] = record
    return records


def append(record):
    """Append `record` to the results file at once."""
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def selected(rel, kind, patterns):
    """Whether `--only` (kinds, or globs of paths under ppcls/configs) selects the config."""
    for pattern in patterns:
        if pattern == kind or pattern in kind.split(" ") or fnmatch.fnmatch(rel, pattern) or rel == pattern:
            return True
    return False


def sweep(args):
    """Run every (config, engine) not done yet, or those `--only` selects, in sweep order."""
    root = tree_root()
    paths = config_paths(root)
    kinds = {rel: kind_of(load(path)) for rel, path in paths.items()}
    done = read_results()
    patterns = [p for p in (args.only or "").split(",") if p]
    todo = []
    for rel in sweep_order(paths, kinds):
        for engine in args.engines.split(","):
            if (selected(rel, kinds[rel], patterns)) if patterns else (rel, engine) not in done:
                todo.append((rel, engine))
    todo = todo[: args.limit] if args.limit else todo
    print(f"{len(todo)} runs to do of {len(paths)} configs x {args.engines}", flush=True)
    sizes = backbone_sizes()
    work = tempfile.mkdtemp(prefix="configs-sweep-")
    try:
        for number, (rel, engine) in enumerate(todo, 1):
            record = check_config(rel, paths[rel], engine, root, sizes, args.timeout, work)
            append(record)
            print(
                f"[{number}/{len(todo)}] {rel} {engine} {record['kind']}: {record['result']} "
                f"({record.get('seconds')} s) {record.get('detail', '')[:200]}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def result_words(record):
    """A record's cell in the per-config table."""
    if record is None:
        return "not run"
    words = f"{record['result']}: {record.get('detail', '')}"
    if record.get("innermost"):
        words += f" (at {record['innermost']}"
        plugin = record.get("plugin")
        words += f"; plugin {plugin})" if plugin and plugin != record["innermost"] else ")"
    if record["result"] == "unrelated":
        words = f"unrelated ({record.get('rdrop_result')}, the same without R-Drop): {record.get('detail', '')}"
        if record.get("paddleclas_own"):
            words += f"; PaddleClas's own tools/train.py without R-Drop: {record['paddleclas_own']}"
    elif record.get("baseline"):
        words += f"; without R-Drop: {record['baseline']}"
    return words.replace("|", "/").replace("\n", " ")


def summary_rows(records, kinds):
    """Rows (kind, engine, counts per result) of the summary table."""
    counts = defaultdict(Counter)
    for (rel, engine), record in records.items():
        counts[(record["kind"], engine)][record["result"]] += 1
    results = [r for r in RESULT_ORDER] + sorted({r for c in counts.values() for r in c} - set(RESULT_ORDER))
    configs = Counter(kinds.values())
    rows = []
    for kind in sorted(configs, key=kind_rank):
        for engine in ENGINES:
            cells = [str(counts[(kind, engine)].get(result, "")) for result in results]
            done = sum(counts[(kind, engine)].values())
            rows.append(f"| {kind} | {configs[kind]} | {engine} | {done} | " + " | ".join(cells) + " |")
    header = "| kind | configs | engine | run | " + " | ".join(results) + " |"
    return [header, "|" + "---|" * (4 + len(results)), *rows]


BUGS = ("traceback", "crash", "timeout", "no_kl", "wrong_kl", "sweep_error")


def bug_clusters(records):
    """The tracebacks, crashes, timeouts and runs without a right KL grouped by line and the innermost frame
    (of the plugin, when it has one), with one config each."""
    clusters = defaultdict(list)
    for (rel, engine), record in records.items():
        if record["result"] in BUGS:
            line = re.sub(r"\[[-\d., e]+\]", "[...]", record.get("detail", ""))  # the logged values of no_kl
            key = (record["result"], line, record.get("plugin") or record.get("innermost") or "")
            clusters[key].append((rel, engine))
    return cluster_table(clusters, "where")


def cluster_table(clusters, third):
    """A table of `clusters` {(result, line, `third` column): [(config, engine)]}, the largest first."""
    lines = [f"| result | line | {third} | runs | engines | e.g. |", "|---|---|---|---|---|---|"]
    for (result, line, where), runs in sorted(clusters.items(), key=lambda item: -len(item[1])):
        engines = ", ".join(sorted({engine for _, engine in runs}))
        text = line.replace("|", "/")[:250]
        lines.append(f"| {result} | {text} | {where} | {len(runs)} | {engines} | {runs[0][0]} |")
    return lines


def plugin_only_clusters(records):
    """The configs that fail the same way without R-Drop through the plugin's tools, grouped by line (quoted
    values elided), with what PaddleClas's own `tools/train.py` makes of the config without R-Drop."""
    clusters = defaultdict(list)
    own = {rel: record.get("paddleclas_own") for (rel, engine), record in records.items() if engine == "paddleclas"}
    for (rel, engine), record in records.items():
        if record["result"] == "unrelated":
            line = re.sub(r"'[^']*'", "'...'", record.get("detail", ""))
            line = re.sub(r"\.\d+([.:])", r".N\1", line)  # transform_ops.3 and .2 in one row
            words = own.get(rel) or "not run"
            clusters[
                (f"unrelated ({record.get('rdrop_result')})", line, "trains" if words == "trains" else words)
            ].append((rel, engine))
    return cluster_table(clusters, "PaddleClas's own tools/train.py")


def report():
    """docs/configs.md from the results."""
    root = tree_root()
    paths = config_paths(root)
    kinds = {rel: kind_of(load(path)) for rel, path in paths.items()}
    records = {key: value for key, value in read_results().items() if key[0] in paths}
    by_result = Counter(record["result"] for record in records.values())
    rows = []
    for rel in sorted(paths, key=lambda r: (kind_rank(kinds[r]), r)):
        cells = [result_words(records.get((rel, engine))) for engine in ENGINES]
        px = next((records[(rel, e)].get("px") for e in ENGINES if (rel, e) in records), "")
        seconds = "/".join(str(records[(rel, e)].get("seconds", "")) if (rel, e) in records else "" for e in ENGINES)
        rows.append(f"| {rel} | {kinds[rel]} | {px or ''} | {seconds} | {cells[0]} | {cells[1]} |")
    lines = [
        "# R-Drop on every config of PaddleClas's tree",
        "",
        f"Every YAML under `ppcls/configs` of the PaddleClas source tree ({len(paths)}), with R-Drop's three "
        "entries added (`Global.train_mode: rdrop`; `RDrop: {passes: 2, strategy: auto}`, no layer added; "
        f"`RDropLoss` weight {ALPHA:g}, batchmean, after `Loss.Train`, with `model_name` the network that trains "
        "for a DistillationModel), shrunk and trained for one step by "
        "`tools/train.py` on PaddleClas's Engine (`PADDLECLAS_ROOT` set) and on the standalone engine. Shrunk: "
        f"{IMAGES} generated random images (2 classes x 2) per loader in the format of its dataset class, "
        f"batch {BATCH}, 1 epoch, no pretrained weights, CPU, one thread, no loader workers, every size of the "
        "data pipeline scaled to the px at which `benchmarks/backbones.py` ran the backbone (the config's own "
        "when the backbone is not there), class counts above "
        f"{CLASS_CAP} set to {CAPPED_CLASSES}.",
        "",
        "    export PADDLECLAS_ROOT=/path/to/PaddleClas",
        "    nohup nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/configs.py --run > configs.log 2>&1 &",
        "    python benchmarks/configs.py --run --only multi-label,distillation   # a kind again",
        "    python benchmarks/configs.py --report                                 # this page",
        "",
        f"{len(records)} of {2 * len(paths)} runs done: "
        + ", ".join(f"{result} {count}" for result, count in by_result.most_common())
        + f"; tracebacks and other bugs: {sum(by_result[result] for result in BUGS)}.",
        "",
        "- *trains*: exit 0 with an `RDropLoss` > 0 in the step log (or, below its 5 decimals, a share of the "
        "loss > 0 in the tool's epoch line; a run whose one step reads 0 runs again over 4 steps, as a batch of 4 "
        "can draw no drop in either pass), on the distribution the config needs "
        "(`bernoulli` with `Global.use_multilabel`, else `softmax`), as the tool's `R-Drop KL: <name>` token "
        "says; a run without the token counts as softmax, so an undeclared multi-label run is *wrong_kl*.",
        "- *refused*: one line `error: ...`, exit 1, that the config without R-Drop's entries does not get.",
        "- *unrelated*: the same shrunk config without R-Drop's entries fails the same way.",
        "- *traceback*, *crash* (a signal), *timeout*, *no_kl* (exit 0 without a KL > 0 in the step or epoch "
        "lines), *wrong_kl*: bugs; the goal is none.",
        "- Kind, from the YAML: `Global.use_multilabel`, `Arch.name: DistillationModel` or Distillation losses, "
        "hashing losses, AdaFace, person datasets (reid), metric-learning losses, retrieval eval or RecModel, "
        "fixmatch / unlabelled data (ssl); no DataLoader or Arch: not a training config.",
        "",
        "## Summary",
        "",
        *summary_rows(records, kinds),
        "",
        "## Tracebacks and other bugs, grouped",
        "",
        "To reproduce a row: `python benchmarks/configs.py --derive <config> /tmp/c` writes the shrunk YAMLs "
        "and data, then `python tools/train.py -c /tmp/c/rdrop/config.yaml` (`/tmp/c/baseline/config.yaml`: "
        "without R-Drop; `PADDLECLAS_RDROP_TRACEBACK=1` shows a refusal's traceback).",
        "",
        *bug_clusters(records),
        "",
        "## Failing without R-Drop too, grouped",
        "",
        "The same shrunk config without R-Drop's entries fails the same way through the plugin's "
        "`tools/train.py`. The third column is what PaddleClas's own `tools/train.py` makes of it (run "
        "once per config, with PaddleClas's Engine): `trains` there means the plugin's tools refuse or break a "
        "config that PaddleClas trains, whatever R-Drop does.",
        "",
        *plugin_only_clusters(records),
        "",
        "## Configs",
        "",
        "| config | kind | px | s (paddleclas/standalone) | PaddleClas's Engine | standalone engine |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    with open(REPORT, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"{REPORT}: {len(records)} runs; {dict(by_result)}")


RUN_ID = str(int(time.time()))


def main():
    """The command line (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run every (config, engine) not in the results yet")
    parser.add_argument("--only", help="comma-separated kinds or globs of paths under ppcls/configs, run again")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines to run")
    parser.add_argument("--limit", type=int, help="at most this many runs")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds for one tool run")
    parser.add_argument("--report", action="store_true", help=f"write {os.path.relpath(REPORT, PROJECT)}")
    parser.add_argument("--derive", nargs=2, metavar=("CONFIG", "FOLDER"), help="write a config's YAMLs and data")
    parser.add_argument("--results", default=RESULTS, help="the results file (a trial's own)")
    args = parser.parse_args()
    globals()["RESULTS"] = os.path.abspath(args.results)
    os.environ["OMP_NUM_THREADS"] = "1"
    if args.derive:
        derive(*args.derive)
    if args.run:
        sweep(args)
    if args.report:
        report()


if __name__ == "__main__":
    main()
