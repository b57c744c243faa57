"""The one way the plugin swaps an attribute of an object it does not own (a module of PaddleClas, an
engine, `sys`): set for the length of a context, restored on leaving, whatever happens inside."""

import contextlib
from typing import Any, Iterator


@contextlib.contextmanager
def patched(owner: object, **values: Any) -> Iterator[None]:
    """Within the context, `owner.<name>` is `value` for each `name=value`; the originals are put back on
    leaving."""
    originals = {name: getattr(owner, name) for name in values}
    for name, value in values.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(owner, name, original)
