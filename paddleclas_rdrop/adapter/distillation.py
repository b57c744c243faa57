"""R-Drop on the student of PaddleClas's `DistillationModel` (`ppcls/arch/__init__.py`): a model of several
networks, each called on the same images, whose output is `{network name: output}`; a frozen network
(`freeze_params_list`) is the teacher.

R-Drop regularises one network, the one `RDropLoss.model_name` names (PaddleClas's `model_name` convention,
as its distillation losses' `model_names`): it runs its k passes, and every other network runs once per step,
its output repeated k times, so that each distillation loss sees `k * B` rows of every network, the student's
pass i against the same teacher output."""

from typing import Any, Dict, List, Mapping, Optional

from ..core.errors import ConfigError

DISTILLATION_ARCHES = ("DistillationModel",)
CHAINED_ARCHES = ("AttentionModel",)  # DistillationModels whose networks feed each other: no pass is one network's


def network_names(arch: Mapping[str, Any]) -> List[str]:
    """The networks of a `DistillationModel` `Arch` section, in its `models` order."""
    return [name for entry in arch.get("models") or [] if isinstance(entry, dict) for name in entry]


def check_model_name(
    arch: Mapping[str, Any], model_name: Optional[str], augment_per_pass: bool = False
) -> Optional[str]:
    """The network R-Drop regularises: `model_name` (the `RDropLoss` entry's), which a `DistillationModel`
    `arch` needs and any other `arch` refuses; it must be a network of the model that trains (not frozen).
    A chained model (`CHAINED_ARCHES`), and a view per pass (`augment_per_pass`: the teacher sees one view),
    are refused. Raises `ConfigError` naming the choices."""
    key = "Loss.Train.RDropLoss.model_name"
    if arch.get("name") in CHAINED_ARCHES:
        raise ConfigError(
            f"Arch.name: {arch.get('name')} feeds each network's output to the next, so no network runs alone and "
            f"R-Drop has no pass of one network to repeat: use DistillationModel, or remove R-Drop's entries"
        )
    if arch.get("name") not in DISTILLATION_ARCHES:
        if model_name is not None:
            raise ConfigError(
                f"{key} is {model_name!r}, but Arch is {arch.get('name')}, one network whose output R-Drop reads "
                f"itself: remove model_name (it names a network of a DistillationModel)"
            )
        return None
    names, frozen = network_names(arch), list(arch.get("freeze_params_list") or [])
    trained = [name for index, name in enumerate(names) if not (index < len(frozen) and frozen[index])]
    if model_name not in trained:
        given = "has none" if model_name is None else f"is {model_name!r}"
        raise ConfigError(
            f"{key} {given}: Arch is a DistillationModel of the networks {names}, and R-Drop regularises the one "
            f"that trains: set model_name: {trained[0] if trained else names[-1]} in the RDropLoss entry"
            + (f" ({', '.join(n for n in names if n not in trained)} is frozen)" if len(trained) < len(names) else "")
        )
    if augment_per_pass:
        raise ConfigError(
            "RDrop.augment_per_pass gives each pass its own view, but the teacher of a DistillationModel runs once "
            "on one view: set RDrop.augment_per_pass: false for a DistillationModel"
        )
    return model_name


def student_of(net, model_name: str):
    """The network `model_name` of the `DistillationModel` `net`; `ConfigError` naming its networks if it has
    none of that name."""
    if model_name not in net.model_name_list:
        raise ConfigError(f"{model_name!r} is not a network of this DistillationModel ({net.model_name_list})")
    return net.model_list[net.model_name_list.index(model_name)]


def k_pass_networks(net, model_name: str, rdrop, images) -> Dict[str, Any]:
    """`net`'s output `{name: output}` for one R-Drop step on `images` ``[B, C, H, W]``: the network
    `model_name` through `rdrop` (its k passes stacked, ``[k * B, ...]``), every other network once, its
    output repeated k times along the batch axis."""
    outputs = {}
    for name, network in zip(net.model_name_list, net.model_list):
        outputs[name] = rdrop(images) if name == model_name else rdrop.repeat_outputs(network(images))
    return outputs
