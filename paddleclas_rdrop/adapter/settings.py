"""The YAML contract of R-Drop: `Global.train_mode`, the `RDrop` section and the `RDropLoss` entry of
a PaddleClas config, parsed and checked once into an immutable `RDropSettings`.

It reads a plain config dict (no PaddleClas import). The values are checked by the core's own
checks, so a rule gives the same `ConfigError` from a YAML and from the Python API; this module
adds the key names and the rules between sections.
"""

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.drop_path import STAGES, check_drop_path, check_drop_path_stages
from ..core.errors import ConfigError, did_you_mean, finite_number
from ..core.head_dropout import check_head_dropout
from ..core.kl import check_distribution, check_reduction
from ..core.loss import check_passes
from ..core.runner import check_strategy
from . import schema
from .distillation import check_model_name
from .sections import section_of


def keys_help() -> List[str]:
    """The R-Drop keys of a PaddleClas YAML, one line each, for the tools' -h."""
    lines = ["Global.train_mode: rdrop  k passes and the KL term (anything else: one pass)"]
    rdrop_defaults = schema.defaults("RDrop")
    lines += [f"RDrop.{key}: {rdrop_defaults[key]}  {text}" for key, text in schema.key_help("RDrop").items()]
    lines += ["Loss.Train: - RDropLoss: {weight: alpha, reduction: batchmean}  the KL term (sum: alpha per batch)"]
    return lines


@dataclasses.dataclass(frozen=True)
class RDropSettings:
    """The R-Drop keys of one config, checked: what the adapter, the k-pass runner, the KL-share watch
    and the standalone engine read. Build it with `from_config` (`ConfigError` names a wrong key).

    ``rdrop`` is ``Global.train_mode == "rdrop"`` (k passes and the KL term); without it the config is
    a one-pass run that keeps the stochastic layers (a baseline twin). ``alpha`` is ``RDrop.alpha`` when
    given, else the `RDropLoss` entry's ``weight``; ``alpha_from_section`` says which (with
    ``RDrop.alpha``, the adapter sets the entry's weight to it: one value, trained with).
    ``reduction`` is the entry's (None without an entry). ``distribution`` is what the KL compares, decided
    by the task, as k is by ``RDrop.passes``: ``bernoulli`` (a sigmoid per label) with
    ``Global.use_multilabel: True``, else ``softmax``; the entry may name it, and only the same one.
    ``model_name`` is the network of a `DistillationModel` R-Drop regularises (`distillation`), None for
    any other model.
    """

    rdrop: bool = False
    passes: int = 2
    strategy: str = "auto"
    head_dropout: float = 0.0
    head_layer: Optional[str] = None
    drop_path: float = 0.0
    drop_path_stages: Tuple[int, ...] = STAGES
    augment_per_pass: bool = False
    alpha_warmup_epochs: float = 0
    alpha: Optional[float] = None
    alpha_from_section: bool = False
    reduction: Optional[str] = None
    distribution: str = "softmax"
    model_name: Optional[str] = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RDropSettings":
        """Parse and check `config` (a dict with PaddleClas's sections); raises `ConfigError`."""
        section = parse_section(config.get("RDrop"))
        train_mode = section_of(config, "Global").get("train_mode")
        entry = check_rdrop_contract(config)
        alpha = section["alpha"] if section["alpha"] is not None else (None if entry is None else entry["weight"])
        return cls(
            rdrop=train_mode == "rdrop",
            passes=section["passes"],
            strategy=section["strategy"],
            head_dropout=section["head_dropout"],
            head_layer=section["head_layer"],
            drop_path=section["drop_path"],
            drop_path_stages=tuple(section["drop_path_stages"]),
            augment_per_pass=section["augment_per_pass"],
            alpha_warmup_epochs=section["alpha_warmup_epochs"],
            alpha=None if alpha is None else float(alpha),
            alpha_from_section=section["alpha"] is not None,
            reduction=None if entry is None else entry.get("reduction", "batchmean"),
            distribution=distribution_of(config, entry),
            model_name=None
            if entry is None
            else check_model_name(section_of(config, "Arch"), entry.get("model_name"), section["augment_per_pass"]),
        )

    @property
    def adds_layers(self) -> bool:
        """Whether the plugin adds stochastic layers (drop path, head dropout) to the model."""
        return self.head_dropout > 0 or self.drop_path > 0

    def layer_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of `add_stochastic_layers` (a one-pass run's layers)."""
        return {
            "head_dropout": self.head_dropout,
            "head_layer": self.head_layer,
            "drop_path": self.drop_path,
            "drop_path_stages": list(self.drop_path_stages),
        }

    def runner_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of `RDrop` (the k-pass runner)."""
        return {
            "passes": self.passes,
            "strategy": self.strategy,
            "augment_per_pass": self.augment_per_pass,
            **self.layer_kwargs(),
        }

    @property
    def runs_k_passes(self) -> bool:
        """Whether training runs k passes: R-Drop, or a baseline twin with k views (`augment_per_pass`)."""
        return self.rdrop or self.augment_per_pass


def distribution_of(config: Mapping[str, Any], entry: Optional[Mapping[str, Any]]) -> str:
    """`bernoulli` for a multi-label config (`Global.use_multilabel: True`: an independent sigmoid per label,
    trained with BCE), else `softmax`; the `RDropLoss` entry's own `distribution`, when it names one, must be
    the same. Raises `ConfigError`."""
    multilabel = section_of(config, "Global").get("use_multilabel") is True
    distribution = "bernoulli" if multilabel else "softmax"
    named = (entry or {}).get("distribution")
    if named is not None and named != distribution:
        raise ConfigError(
            f"Loss.Train.RDropLoss.distribution is {named!r} but Global.use_multilabel is {multilabel}, whose outputs "
            f"are {'a sigmoid per label' if multilabel else 'one softmax over the classes'}: remove the key (the "
            f"KL then compares {distribution} outputs) or set Global.use_multilabel to {not multilabel}"
        )
    return distribution


def parse_section(section: Any) -> Dict[str, Any]:
    """The `RDrop` mapping with defaults filled in and checked; an unknown key is an error naming it."""
    section = section or {}
    rdrop_defaults = schema.defaults("RDrop")
    if not isinstance(section, dict):
        raise ConfigError(f"RDrop must be a mapping of {sorted(rdrop_defaults)}, got {section!r}")
    unknown = sorted(set(section) - set(rdrop_defaults))
    if unknown:
        raise ConfigError(
            f"RDrop.{unknown[0]} is not an R-Drop setting{did_you_mean(unknown[0], rdrop_defaults)}; "
            f"the settings are {sorted(rdrop_defaults)}"
        )
    settings = {**rdrop_defaults, **section}
    check_passes(settings["passes"])
    check_strategy(settings["strategy"])
    settings["head_dropout"] = check_head_dropout(settings["head_dropout"])
    settings["drop_path"] = check_drop_path(settings["drop_path"])
    settings["drop_path_stages"] = check_drop_path_stages(settings["drop_path_stages"])
    if not isinstance(settings["augment_per_pass"], bool):
        raise ConfigError(f"RDrop.augment_per_pass must be true or false, got {settings['augment_per_pass']!r}")
    alpha = settings["alpha"]
    if alpha is not None and (not finite_number(alpha) or alpha < 0):
        raise ConfigError(
            f"RDrop.alpha is the weight of the KL term and must be a finite number >= 0 (per sample with reduction "
            f"batchmean; the recipes use 3), got {alpha!r}"
        )
    warmup = settings["alpha_warmup_epochs"]
    if not finite_number(warmup) or warmup < 0:
        raise ConfigError(f"RDrop.alpha_warmup_epochs must be a finite number of epochs >= 0 (0: none), got {warmup!r}")
    if settings["head_layer"] is not None and (
        not isinstance(settings["head_layer"], str) or not settings["head_layer"]
    ):
        raise ConfigError(
            f"RDrop.head_layer must be a layer name such as out (or left out: the model's last Linear layer), "
            f"got {settings['head_layer']!r}"
        )
    return settings


def _entries(config, split):
    return [entry for entry in (section_of(config, "Loss", split) or []) if "RDropLoss" in entry]


def check_rdrop_contract(config: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """`train_mode: rdrop` and an `RDropLoss` entry come together; alpha is its `weight`. Returns the
    entry's parameters (None without one); raises `ConfigError`."""
    for name in config:
        hint = did_you_mean(name, ["RDrop"]) if name != "RDrop" else ""
        if hint:
            raise ConfigError(f"{name} is not the R-Drop section{hint}")
    train_mode = section_of(config, "Global").get("train_mode")
    train_losses = section_of(config, "Loss", "Train") or []
    entries = _entries(config, "Train")
    if train_mode == "rdrop" and not entries:
        raise ConfigError(
            "Global.train_mode is rdrop but Loss.Train has no RDropLoss entry, so nothing would "
            "use the k passes: add `- RDropLoss: {weight: 3.0}` (weight = alpha, or set RDrop.alpha) to Loss.Train"
        )
    if entries and train_mode != "rdrop":
        raise ConfigError(
            f"Loss.Train has an RDropLoss entry but Global.train_mode is {train_mode!r}: set "
            "Global.train_mode: rdrop, the train hook that runs the k passes RDropLoss compares"
        )
    section = config.get("RDrop") or {}
    k_pass_keys = sorted({"strategy", "alpha_warmup_epochs", "alpha"} & set(section))
    if "passes" in section and not section.get("augment_per_pass"):
        k_pass_keys.insert(0, "passes")
    if k_pass_keys and train_mode != "rdrop":
        raise ConfigError(
            f"RDrop.{k_pass_keys[0]} is set but Global.train_mode is {train_mode!r}: set "
            "Global.train_mode: rdrop for R-Drop; a baseline keeps only its stochastic layers "
            "(RDrop.head_dropout/head_layer, RDrop.drop_path/drop_path_stages) and, with "
            "RDrop.augment_per_pass, RDrop.passes (k views, CE only)"
        )
    batch_ops = section_of(config, "DataLoader", "Train", "dataset").get("batch_transform_ops")
    if section.get("augment_per_pass") and batch_ops:
        raise ConfigError(
            "RDrop.augment_per_pass gives each pass its own view of a sample, but "
            "DataLoader.Train.dataset.batch_transform_ops (Mixup/Cutmix) mixes whole batches: remove one of them"
        )
    if _entries(config, "Eval"):
        raise ConfigError("Loss.Eval has an RDropLoss entry, but evaluation runs one pass: remove it from Loss.Eval")
    return None if not entries else _entry_params(entries, train_losses, section)


def _entry_params(
    entries: Sequence[Mapping[str, Any]], train_losses: Sequence[Any], section: Mapping[str, Any]
) -> Dict[str, Any]:
    """The parameters of the one `RDropLoss` entry of `entries`, beside a task loss in `train_losses`, checked
    (`section`: the `RDrop` section); raises `ConfigError`."""
    if len(entries) > 1:
        raise ConfigError("Loss.Train has more than one RDropLoss entry: keep one")
    if len(train_losses) == 1:
        raise ConfigError(
            "Loss.Train has RDropLoss alone, so training would minimise the KL term only: add the "
            "task loss beside it, e.g. `- CELoss: {weight: 1.0, epsilon: 0.1}`"
        )
    params = entries[0]["RDropLoss"] or {}
    if "passes" in params:
        raise ConfigError(
            "Loss.Train.RDropLoss.passes: the number of passes is set in one place only, "
            "RDrop.passes; remove it from the loss entry"
        )
    check_kl_entry(
        "RDropLoss",
        params,
        ("weight", "reduction", "distribution", "model_name"),
        alpha_elsewhere=section.get("alpha") is not None,
    )
    check_distribution(params.get("distribution", "softmax"), "Loss.Train.RDropLoss.distribution")
    return params


def check_kl_entry(
    name: str, params: Mapping[str, Any], known: Sequence[str] = ("weight", "reduction"), alpha_elsewhere: bool = False
) -> None:
    """A KL loss entry's keys (`known`), its `reduction` and its `weight`, which is alpha (unless
    `alpha_elsewhere`: `RDrop.alpha` sets it); raises `ConfigError`."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(
            f"Loss.Train.{name}.{unknown[0]} is not a key of {name}{did_you_mean(unknown[0], known)}; "
            f"its keys are {list(known)}"
        )
    check_reduction(params.get("reduction", "batchmean"), f"Loss.Train.{name}")
    weight = params.get("weight")
    if alpha_elsewhere and weight is None:
        return
    if not finite_number(weight) or weight < 0:
        raise ConfigError(
            f"Loss.Train.{name}.weight is alpha, the weight of the KL term, and must be a finite number "
            f">= 0 (0.6 in the paper for image classification), got {weight!r}; or set RDrop.alpha"
        )


def sync_alpha(config: Dict[str, Any], settings: RDropSettings) -> None:
    """With `RDrop.alpha`, write it as the `RDropLoss` entry's `weight` in `config` (the slot PaddleClas's
    `CombinedLoss` reads), so that the two never disagree; a no-op otherwise."""
    if not settings.alpha_from_section:
        return
    for entry in _entries(config, "Train"):
        entry["RDropLoss"] = {**(entry["RDropLoss"] or {}), "weight": settings.alpha}
