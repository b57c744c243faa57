"""The one accessor of a PaddleClas config's sections: a YAML leaves any section out, or writes it empty."""

from typing import Any, Mapping, Optional


def section_of(config: Optional[Mapping[str, Any]], *keys: str) -> Any:
    """The mapping at `config[keys[0]][keys[1]]...`, `{}` where a key is absent or its value empty (None)."""
    node = config
    for key in keys:
        node = (node or {}).get(key) or {}
    return node
