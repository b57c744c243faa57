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

from ..core.errors import ConfigError, did_you_mean

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


def classifier_name(model):
    """The name of the model's last `Linear` sublayer (its classifier), or None."""
    import paddle.nn as nn

    names = [name for name, layer in model.named_sublayers() if isinstance(layer, nn.Linear)]
    return names[-1] if names else None


def build(config):
    """The model of `config`'s `Arch`, built by the `paddleclas` wheel without its pretrained weights (a
    download); `ConfigError` if it cannot be built."""
    import paddle
    from paddleclas.ppcls.arch import build_model

    arch = {**config["Arch"], "pretrained": False}
    try:
        with paddle.utils.unique_name.guard():
            return build_model({"Arch": arch})
    except (TypeError, AttributeError, KeyError) as error:
        raise ConfigError(f"Arch: the paddleclas wheel cannot build {config['Arch'].get('name')!r}: {error}") from None


def check(config):
    """Check `config` as the plugin's tools do before training, and more: build its model, add its R-Drop
    layers and run the k passes once in training mode on random images. Raises the plugin's
    `ConfigError` if the settings do not fit the model or the passes come out identical."""
    import paddle

    from ..adapter.settings import RDropSettings, check_rdrop_contract
    from ..core.runner import RDrop

    check_rdrop_contract(config)
    settings = RDropSettings.from_config(config)
    model = build(config)
    runner = RDrop(model, **settings.runner_kwargs())
    model.train()
    paddle.seed(0)
    runner(paddle.randn([2, 3, CHECK_SIZE, CHECK_SIZE]))


def default_layers(config):
    """The stochastic layers to try, in order: none (the model's own dropout or drop path); dropout 0.1
    before the model's classifier and drop path 0.1 in its last stage; that dropout alone."""
    yield {}
    head = classifier_name(build(config))
    yield {"head_dropout": 0.1, "head_layer": head, "drop_path": 0.1, "drop_path_stages": [4]}
    yield {"head_dropout": 0.1, "head_layer": head}


def rdrop_config(config, alpha=3.0, passes=2, layers=None):
    """`with_rdrop(config, ...)`, checked (`check`). Without `layers`, the first of `default_layers` that
    passes the check. Returns (the config, the layers). Raises the last `ConfigError` if none passes."""
    error = None
    for candidate in [layers] if layers is not None else default_layers(config):
        result = with_rdrop(config, alpha, passes, candidate)
        try:
            check(result)
            return result, candidate
        except ConfigError as failed:
            error = failed
    raise error


def train_command(paddlex_root, model, config_path):
    """PaddleX's train command for `model` with the YAML at `config_path` (`<...>` for what the user fills)."""
    module = os.path.join(MODULE_CONFIGS, f"{model}.yaml")
    return (
        f"cd {paddlex_root} && python main.py -c {module} -o Global.mode=train "
        f"-o Global.dataset_dir=<your dataset> -o Global.device=cpu "
        f"-o Train.basic_config_path={os.path.abspath(config_path)} -o Train.pretrain_weight_path=None"
    )
