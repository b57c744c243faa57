"""Deep mutual learning in PaddleClas's terms, the R-Drop article's own example: `MutualModel` (several
`ppcls.arch` networks side by side, `Arch: {name: MutualModel, models: [...]}`), `network_weights` (one
network of its checkpoint under stock keys), its loss `MutualKLLoss` (R-Drop's symmetric KL between the
networks of its `{network: logits}` output) and metric `MutualTopkAcc` (top-k of each network), and the
YAML contract of its losses and metric."""

import importlib
import itertools
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import paddle
import paddle.nn as nn

from ..core.errors import ConfigError
from ..core.kl import check_reduction, compute_kl_loss
from ..core.loss import ModelOutput, logits_of
from .models import build
from .sections import section_of
from .settings import check_kl_entry

MUTUAL_MODEL = "MutualModel"
MUTUAL_LOSSES = ("DistillationGTCELoss", "MutualKLLoss")  # the Loss.Train entries that read networks


class MutualKLLoss(nn.Layer):
    """Mean symmetric KL between the networks of a `MutualModel` output ``{name: logits}``:
    the article's two-network term, deep mutual learning. Alpha is the entry's ``weight``.

    ``model_name_pairs`` as PaddleClas's DistillationDMLLoss (default: every pair of networks);
    the KL is R-Drop's `compute_kl_loss` where DMLLoss has its own ``eps``-smoothed one.
    """

    def __init__(
        self, model_name_pairs: Optional[Sequence[Sequence[str]]] = None, reduction: str = "batchmean"
    ) -> None:
        super().__init__()
        check_reduction(reduction, "MutualKLLoss")
        self.model_name_pairs = [tuple(pair) for pair in model_name_pairs] if model_name_pairs else None
        self.reduction = reduction

    def forward(self, x: ModelOutput, label: Optional[paddle.Tensor] = None) -> Dict[str, paddle.Tensor]:
        if not isinstance(x, dict) or len(x) < 2:
            raise ConfigError(
                "MutualKLLoss needs the {network: logits} output of two or more networks (Arch.name: MutualModel)"
            )
        pairs = self.model_name_pairs or list(itertools.combinations(x, 2))
        kl = sum(compute_kl_loss(x[a], x[b], reduction=self.reduction) for a, b in pairs)
        return {"MutualKLLoss": kl / len(pairs)}  # type: ignore[dict-item]  # sum() of tensors is a tensor


class MutualTopkAcc(nn.Layer):
    """Top-k accuracy of every network of a `MutualModel` output, as ``top1_<network>``: PaddleClas's
    DistillationTopkAcc reads one network and its keys would collide for two. A plain tensor
    (eval mode) gives plain ``top1``."""

    def __init__(self, topk: Union[int, Sequence[int]] = (1, 5)) -> None:
        super().__init__()
        self.topk = [topk] if isinstance(topk, int) else list(topk)

    def forward(
        self, x: Union[paddle.Tensor, Dict[str, paddle.Tensor]], label: paddle.Tensor
    ) -> Dict[str, paddle.Tensor]:
        outputs = x if isinstance(x, dict) else {None: x}
        label = label.reshape([-1, 1])
        values = {}
        for name, logits in outputs.items():
            logits = logits.astype("float32")
            for k in self.topk:
                key = f"top{k}" if name is None else f"top{k}_{name}"
                values[key] = paddle.metric.accuracy(logits, label, k=min(k, logits.shape[-1]))
        return values

    def reset(self) -> None:
        """PaddleClas resets its metrics between evaluations; nothing is accumulated here."""


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

    def __init__(
        self,
        models: Optional[List[Dict[str, Any]]] = None,
        infer_model_name: Optional[str] = None,
        class_num: Optional[int] = None,
    ) -> None:
        super().__init__()
        networks = _network_entries(models)
        if infer_model_name not in networks:
            raise ConfigError(
                f"Arch.infer_model_name must name the network to evaluate and export, "
                f"one of {list(networks)}; got {infer_model_name!r}"
            )
        arch = importlib.import_module(self.arch_module)
        for key, params in networks.items():
            name = params.pop("name")
            if not callable(getattr(arch, str(name), None)):
                raise ConfigError(f"Arch.models.{key}.name: PaddleClas has no network {name!r}")
            if class_num is not None:
                params.setdefault("class_num", class_num)
            network = build(lambda: getattr(arch, name)(**params), name, f"Arch.models.{key}", scope=f"{key}.")
            for parameter in network.parameters():
                parameter.name = f"{key}.{parameter.name}"
            self.add_sublayer(key, network)
        self.model_names = list(networks)
        self.infer_model_name = infer_model_name

    def forward(self, x: paddle.Tensor) -> ModelOutput:
        if not self.training:
            return self._sub_layers[self.infer_model_name](x)
        return {name: logits_of(self._sub_layers[name](x)) for name in self.model_names}


def network_weights(state_dict: Mapping[str, Any], network: str) -> Dict[str, Any]:
    """The weights of one network of a MutualModel checkpoint under its stock keys: a checkpoint
    the stock architecture loads (`Global.pretrained_model` of a one-network config). A `ConfigError` for a
    one-network checkpoint (`networks_of`: its keys begin with layers, not networks), and for a `network` it
    does not have (naming the networks it has)."""
    networks = networks_of(state_dict)
    if networks is None:
        layers = sorted({key.split(".", 1)[0] for key in state_dict})
        shown = ", ".join(layers[:6]) + (", ..." if len(layers) > 6 else "")
        raise ConfigError(
            f"it is a one-network checkpoint, not a MutualModel's: its keys begin with the layers of one network "
            f"({shown}), where a MutualModel checkpoint's begin with its networks' names (Arch.models' keys, e.g. "
            f"{network}); there is no network to extract: a one-network config loads it as it is "
            f"(Global.pretrained_model)"
        )
    if network not in networks:
        raise ConfigError(f"the checkpoint has no network {network!r}; it has {networks}")
    prefix = f"{network}."
    return {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}


def networks_of(state_dict: Mapping[str, Any]) -> Optional[List[str]]:
    """The networks of a checkpoint of several (a MutualModel's: `SENet.conv1_1._conv.weight`), sorted; None for a
    one-network checkpoint, whose keys begin with layers: a parameter of the network itself (`pos_embed`) or a
    layer whose parameters sit right under it (`fc.weight`, `fc.bias`: a classifier), where every network of a
    MutualModel holds layers of its own."""
    depths: Dict[str, int] = {}
    for key in state_dict:
        first, dot, rest = key.partition(".")
        if not dot:
            return None
        depths[first] = max(depths.get(first, 0), rest.count(".") + 1)
    if len(depths) < 2 or min(depths.values()) < 2:
        return None
    return sorted(depths)


def _network_entries(models):
    """`{key: params}` of `Arch.models`, a list of one-key mappings such as `- Res2Net: {name: ...}`."""
    example = "[{Res2Net: {name: Res2Net50_vd_26w_4s}}, {SENet: {name: SE_ResNet50_vd}}]"
    if not isinstance(models, list) or len(models) < 2:
        raise ConfigError(f"Arch.models must list two or more networks, e.g. {example}")
    networks = {}
    for index, entry in enumerate(models):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"Arch.models.{index} must be a one-key mapping as in {example}")
        ((key, params),) = entry.items()
        if key in networks:
            raise ConfigError(f"Arch.models: two networks are called {key!r}; give each its own name")
        if not isinstance(params, dict) or "name" not in params:
            raise ConfigError(f"Arch.models.{key}.name is required (the PaddleClas network to build)")
        networks[key] = dict(params)
    return networks


def check_mutual_contract(config: Mapping[str, Any]) -> None:
    """`Arch: MutualModel` (deep mutual learning) and its losses and metric come together, and
    every network a loss or metric names exists."""
    arch = config.get("Arch") or {}
    mutual = arch.get("name") == MUTUAL_MODEL
    train = section_of(config, "Loss", "Train") or []
    names = [name for entry in train for name in entry]
    metrics = [name for entry in (section_of(config, "Metric", "Train") or []) for name in entry]
    eval_names = [name for entry in (section_of(config, "Loss", "Eval") or []) for name in entry] + [
        name for entry in (section_of(config, "Metric", "Eval") or []) for name in entry
    ]
    misplaced = sorted(set(eval_names) & {*MUTUAL_LOSSES, "MutualTopkAcc"})
    if misplaced:
        raise ConfigError(
            f"{misplaced[0]} is in Loss.Eval or Metric.Eval, but evaluation sees one network "
            f"(the one Arch.infer_model_name names): use CELoss and TopkAcc there"
        )
    if not mutual:
        if "MutualKLLoss" in names or "MutualTopkAcc" in metrics:
            raise ConfigError(
                "MutualKLLoss and MutualTopkAcc read the networks of Arch.name: MutualModel "
                f"(deep mutual learning); Arch.name is {arch.get('name')!r}"
            )
        return
    if section_of(config, "Global").get("train_mode") == "rdrop":
        raise ConfigError(
            "Global.train_mode: rdrop runs one network k times; Arch.name: MutualModel "
            "already compares its networks: remove train_mode (and RDropLoss)"
        )
    for name in names:
        if name not in MUTUAL_LOSSES:
            raise ConfigError(
                f"Loss.Train.{name} reads one network's output, but Arch.name is MutualModel: "
                f"use {' and '.join(MUTUAL_LOSSES)} (CE on each network, KL between them)"
            )
    for name in metrics:
        if name != "MutualTopkAcc":
            raise ConfigError(
                f"Metric.Train.{name} reads one network's output, but Arch.name is "
                f"MutualModel: use MutualTopkAcc (top-k of every network)"
            )
    networks = [key for entry in (arch.get("models") or []) if isinstance(entry, dict) for key in entry]
    for entry in train:
        ((name, params),) = entry.items()
        params = params or {}
        for key in ("model_names", "model_name_pairs"):
            if key in params and not isinstance(params[key], list):
                raise ConfigError(
                    f"Loss.Train.{name}.{key} must be a list of network names such as "
                    f"[Res2Net, SENet], got {params[key]!r}"
                )
        named = params.get("model_names") or [n for pair in params.get("model_name_pairs") or [] for n in pair]
        for network in named:
            if network not in networks:
                raise ConfigError(
                    f"Loss.Train.{name} names the network {network!r}, which is not in Arch.models ({networks})"
                )
        if name == "MutualKLLoss":
            check_kl_entry(name, params, known=("weight", "reduction", "model_name_pairs"))
