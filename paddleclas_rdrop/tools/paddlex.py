"""R-Drop for PaddleX: a PaddleClas YAML of PaddleX's, with the R-Drop sections added and checked, for
PaddleX's `-o Train.basic_config_path`.

PaddleX 3.x trains a classifier by running PaddleClas's `tools/train.py` on a PaddleClas YAML of its
own (`paddlex/repo_apis/PaddleClas_api/configs/<model>.yaml` in PaddleX's source); its own `-o` keys
stay in PaddleX's config and never reach PaddleClas. A YAML given as `Train.basic_config_path` is
trained instead, and the plugin's autoload hook makes R-Drop active in that run. PaddleX then sets
the data, class count, epochs, batch size, learning rate, device and output keys itself.
"""

import copy
import os

from ..adapter.models import build as build_model_of
from ..adapter.sections import section_of
from ..core.drop_path import residual_blocks
from ..core.errors import ConfigError, did_you_mean, first_line
from ..core.head_dropout import classifier_name

PADDLEX_CONFIGS = os.path.join("paddlex", "repo_apis", "PaddleClas_api", "configs")
MODULE_CONFIGS = os.path.join("paddlex", "configs", "modules", "image_classification")
CHECK_SIZE = 64  # px of the random images the k passes are checked on


def paddlex_yaml(paddlex_root, model):
    """The PaddleClas YAML PaddleX trains `model` with, in PaddleX's source at `paddlex_root` (the folder
    with `main.py`). `ConfigError` naming the closest model when there is none."""
    folder = os.path.join(paddlex_root, PADDLEX_CONFIGS)
    if not os.path.isdir(folder):
        raise ConfigError(
            f"--paddlex-root {paddlex_root}: no {PADDLEX_CONFIGS}; give the folder of PaddleX's source with "
            f"main.py (the PyPI wheel has none of it: pip download paddlex --no-deps --no-binary :all:)"
        )
    path = os.path.join(folder, f"{model}.yaml")
    if not os.path.isfile(path):
        models = sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".yaml"))
        raise ConfigError(f"--model {model}: PaddleX has no such PaddleClas config{did_you_mean(model, models)}")
    return path


def with_rdrop(config, alpha=3.0, passes=2, layers=None):
    """A copy of the PaddleClas `config` (a dict) with `Global.train_mode: rdrop`, an `RDrop` section
    (`passes`, strategy `auto`, and `layers`: the stochastic-layer keys, e.g. `{"head_dropout": 0.1}`)
    and an `RDropLoss` entry (`weight` alpha, per sample) after the task loss."""
    config = copy.deepcopy(config)
    config.setdefault("Global", {})["train_mode"] = "rdrop"
    config["RDrop"] = {"passes": passes, "strategy": "auto", **(layers or {})}
    train = config.setdefault("Loss", {}).setdefault("Train", [])
    train[:] = [entry for entry in train if "RDropLoss" not in entry]
    train.append({"RDropLoss": {"weight": alpha, "reduction": "batchmean"}})
    return config


def build(config):
    """The model of `config`'s `Arch`, built by the `paddleclas` wheel without its pretrained weights (a
    download); `ConfigError` if it cannot be built."""
    from paddleclas.ppcls.arch import build_model

    arch = {**config["Arch"], "pretrained": False}
    return build_model_of(lambda: build_model({"Arch": arch}), arch.get("name"))


def image_size(config):
    """The side of the images `config` trains on (`Global.image_shape`), 224 px without one."""
    shape = section_of(config, "Global").get("image_shape")
    return int(shape[-1]) if isinstance(shape, (list, tuple)) and shape else 224


def run_passes_once(config):
    """Build the model of `config`, add its R-Drop layers and run the k passes once in training mode on two
    random images of the config's size. Raises the plugin's `ConfigError` if the layers do not fit the model,
    if the passes come out identical, or if the model cannot run (the reason named)."""
    import paddle

    from ..adapter.runner import RDrop
    from ..adapter.settings import RDropSettings

    settings = RDropSettings.from_config(config)
    model = build(config)
    runner = RDrop(model, **settings.runner_kwargs())
    model.train()
    paddle.seed(0)
    size = image_size(config)
    try:
        runner(paddle.randn([2, 3, size, size]))
    except ConfigError:
        raise
    except Exception as error:  # the model's own checks (an input size it refuses, ...)
        raise ConfigError(
            f"Arch {config['Arch'].get('name')}: two passes on {size} px images failed ({first_line(error)})"
        ) from None


def default_layers(config):
    """The stochastic layers to try, in order: none (the model's own dropout or drop path); dropout 0.1
    before the model's classifier and drop path 0.1 in the last stage with a residual block, where drop
    path knows the model; that dropout alone."""
    yield {}
    net = build(config)
    head = classifier_name(net)  # written out in the YAML, for the user to see
    blocks = residual_blocks(net)
    if blocks:
        yield {"head_dropout": 0.1, "head_layer": head, "drop_path": 0.1, "drop_path_stages": [blocks[-1][0]]}
    yield {"head_dropout": 0.1, "head_layer": head}


def rdrop_config(config, alpha=3.0, passes=2, layers=None):
    """`with_rdrop(config, ...)`, checked as the plugin's tools check a config (`check_rdrop_contract`), then
    on the model (`run_passes_once`). Without `layers`, the first of `default_layers` the model passes with; a
    mistake that is not about the layers (alpha, passes) is raised at once. Returns (the config, the
    layers). Raises `ConfigError`: with every candidate's reason when no layers make R-Drop work."""
    from ..adapter.settings import check_rdrop_contract

    check_rdrop_contract(with_rdrop(config, alpha, passes, layers or {}))
    failures = []
    for candidate in [layers] if layers is not None else default_layers(config):
        result = with_rdrop(config, alpha, passes, candidate)
        try:
            run_passes_once(result)
            return result, candidate
        except ConfigError as error:
            failures.append((candidate, error))
    if len(failures) == 1:
        raise failures[0][1]
    own = "(the model's own layers)"
    reasons = [f"with RDrop {candidate or own}: {error}" for candidate, error in failures]
    raise ConfigError("no stochastic layers make R-Drop work on this model; " + "; ".join(reasons))


def chosen_layers(head_dropout=None, head_layer=None, drop_path=None):
    """The `RDrop` layer keys a user gave (None: not given), or None when none was given (the defaults are
    tried then): a `head_layer` alone gets dropout 0.1, a `drop_path` acts in the last stage."""
    layers = {
        key: value
        for key, value in (("head_dropout", head_dropout), ("head_layer", head_layer), ("drop_path", drop_path))
        if value is not None
    }
    if head_layer is not None and head_dropout is None:
        layers["head_dropout"] = 0.1
    if drop_path is not None:
        layers["drop_path_stages"] = [4]
    return layers or None


def train_command(paddlex_root, model, config_path, device="cpu"):
    """PaddleX's train command for `model` with the YAML at `config_path` on `device` (PaddleX's names:
    cpu, gpu:0, gpu:0,1, ...), paths quoted for a shell; `<your dataset>` is for the user to fill."""
    import shlex

    module = os.path.join(MODULE_CONFIGS, f"{model}.yaml")
    return (
        f"cd {shlex.quote(str(paddlex_root))} && python main.py -c {module} -o Global.mode=train "
        f"-o Global.dataset_dir=<your dataset> -o Global.device={shlex.quote(device)} "
        f"-o Train.basic_config_path={shlex.quote(os.path.abspath(config_path))} -o Train.pretrain_weight_path=None"
    )
