"""`MutualModel`: several classifiers side by side, each in its own name scope."""
import importlib

import paddle
import paddle.nn as nn

from ..errors import ConfigError
from ..passes.runner import logits_of


class MutualModel(nn.Layer):
    """Several classifiers side by side, as `Arch: {name: MutualModel, models: [...]}`.

    In training a call returns ``{network name: logits}``; in eval mode (eval, export, infer)
    it is the network ``infer_model_name`` names alone, so the export is that stock model.

    Each network is built in its own name scope and its parameters get its name as a prefix:
    PaddleClas's older backbones (Res2Net, SE-ResNet) use fixed parameter names such as
    ``conv1_1_weights``, which Paddle refuses to create twice and an optimizer (keyed by
    parameter name) would mix up. Checkpoint keys stay structured: ``<network>.<stock key>``.
    """

    arch_module = "paddleclas.ppcls.arch"  # the module networks are looked up in, by name

    def __init__(self, models=None, infer_model_name=None, class_num=None):
        super().__init__()
        networks = _network_entries(models)
        if infer_model_name not in networks:
            raise ConfigError(f"Arch.infer_model_name must name the network to evaluate and export, "
                              f"one of {list(networks)}; got {infer_model_name!r}")
        arch = importlib.import_module(self.arch_module)
        for key, params in networks.items():
            name = params.pop("name")
            if not callable(getattr(arch, str(name), None)):
                raise ConfigError(f"Arch.models.{key}.name: PaddleClas has no network {name!r}")
            if class_num is not None:
                params.setdefault("class_num", class_num)
            with paddle.utils.unique_name.guard(f"{key}."):
                try:
                    network = getattr(arch, name)(**params)
                except TypeError as error:
                    raise ConfigError(f"Arch.models.{key}: cannot build {name}: {error}") from None
            for parameter in network.parameters():
                parameter.name = f"{key}.{parameter.name}"
            self.add_sublayer(key, network)
        self.model_names = list(networks)
        self.infer_model_name = infer_model_name

    def forward(self, x):
        if not self.training:
            return self._sub_layers[self.infer_model_name](x)
        return {name: logits_of(self._sub_layers[name](x)) for name in self.model_names}


def network_weights(state_dict, network):
    """The weights of one network of a MutualModel checkpoint under its stock keys: a checkpoint
    the stock architecture loads (`Global.pretrained_model` of a one-network config)."""
    prefix = f"{network}."
    weights = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not weights:
        networks = sorted({key.split(".", 1)[0] for key in state_dict})
        raise ConfigError(f"the checkpoint has no network {network!r}; it has {networks}")
    return weights


def _network_entries(models):
    """`{key: params}` of `Arch.models`, a list of one-key mappings such as `- Res2Net: {name: ...}`."""
    example = "[{Res2Net: {name: Res2Net50_vd_26w_4s}}, {SENet: {name: SE_ResNet50_vd}}]"
    if not isinstance(models, list) or len(models) < 2:
        raise ConfigError(f"Arch.models must list two or more networks, e.g. {example}")
    networks = {}
    for index, entry in enumerate(models):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"Arch.models.{index} must be a one-key mapping as in {example}")
        (key, params), = entry.items()
        if key in networks:
            raise ConfigError(f"Arch.models: two networks are called {key!r}; give each its own name")
        if not isinstance(params, dict) or "name" not in params:
            raise ConfigError(f"Arch.models.{key}.name is required (the PaddleClas network to build)")
        networks[key] = dict(params)
    return networks
