"""The one accessor of a PaddleClas config's sections (a YAML leaves any section out, or writes it empty),
and the two shapes of its `Optimizer` section."""

from typing import Any, List, Mapping, Optional, Tuple


def section_of(config: Optional[Mapping[str, Any]], *keys: str) -> Any:
    """The mapping at `config[keys[0]][keys[1]]...`, `{}` where a key is absent or its value empty (None)."""
    node = config
    for key in keys:
        node = (node or {}).get(key) or {}
    return node


def optimizer_entries(config: dict) -> List[Tuple[str, dict]]:
    """[(the `-o` path of an optimizer, its mapping)]: one for `Optimizer`, one per entry of PaddleClas's list
    of optimizers (one per network: `Optimizer.<i>.<name>`)."""
    optimizer = config.get("Optimizer") or {}
    if not isinstance(optimizer, list):
        return [("Optimizer", optimizer)]
    return [(f"Optimizer.{i}.{name}", params) for i, entry in enumerate(optimizer) for name, params in entry.items()]
