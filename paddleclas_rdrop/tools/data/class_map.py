"""The class map, `Infer.PostProcess.class_id_map_file` (`<id> <name>` lines), read by the plugin's one text
reader (`text.read_lines`: UTF-8, a byte-order mark dropped, the encoding named) wherever the tools read it:
`predict.py` and the demo's summary, the export, and both engines' infer. PaddleClas's own readers (its
deploy post-process, the wheel's, and its Engine's `Topk` and `MultiLabelThreshOutput`) read it with `open()`
and `int()`: a byte-order mark there printed a bare `invalid literal for int()` and dropped every class name.
While `reading_class_maps` is entered, they read it with `read_class_map`."""

import contextlib
import os

from ...core.errors import DataError
from .text import read_lines, shown

KEY = "Infer.PostProcess.class_id_map_file"


def read_class_map(path, delimiter=None):
    """{class id: name} of the class map at `path`: `<id><delimiter><name>` lines (`delimiter` a space unless
    given, as PaddleClas's), blank ones skipped, the id as the name of a line without one. A line that does not
    start with a class id is a `DataError` naming the file and the line."""
    names = {}
    for number, line in read_lines(path, "class map", KEY):
        if not line.strip():
            continue
        head, _, name = line.strip().partition(delimiter or " ")
        if not head.strip().isdecimal():
            raise DataError(
                f"{shown(path)}:{number}: expected `<id> <name>` (a class id from 0, a space, its name), got "
                f"{line.strip()!r}: fix that line of the class map ({KEY})"
            )
        names[int(head)] = name.strip() or head.strip()
    return names


def config_class_map(config):
    """{class id: name} of `config`'s class map, or {} when it names none or the file does not exist (PaddleClas
    then gives class ids without names)."""
    postprocess = (config.get("Infer") or {}).get("PostProcess") or {}
    path = postprocess.get("class_id_map_file")
    if not path or not os.path.exists(path):
        return {}
    return read_class_map(path, postprocess.get("delimiter"))


def _parse(class_id_map_file, delimiter=None):
    """PaddleClas's `parse_class_id_map(class_id_map_file, delimiter)`: None without a file, as its own."""
    if class_id_map_file is None or not os.path.exists(class_id_map_file):
        return None
    return read_class_map(class_id_map_file, delimiter)


@contextlib.contextmanager
def reading_class_maps():
    """Within the context, the wheel's deploy `parse_class_id_map` (its `Topk` and `MultiLabelThreshOutput`,
    which `predict.py` and the standalone engine's infer build, where that module is loaded) and, when a
    PaddleClas source tree is imported, its `Topk` and `MultiLabelThreshOutput` methods (PaddleClas's Engine's
    infer) are `read_class_map`; the originals are put back on leaving."""
    import sys

    from ...adapter.patch import patched

    def method(self, class_id_map_file):
        return _parse(class_id_map_file, getattr(self, "delimiter", None))

    with contextlib.ExitStack() as stack:
        # the wheel's deploy module only where it is loaded: importing it would put the wheel's console handler
        # back on the `ppcls` logger of a PaddleClas's Engine run (`quiet.leave_logger_to_tree`), every line twice
        postprocess = sys.modules.get("paddleclas.deploy.python.postprocess")
        if postprocess is not None:
            stack.enter_context(patched(postprocess, parse_class_id_map=_parse))
        if "ppcls" in sys.modules:  # PaddleClas's Engine, from a source tree
            from ppcls.data.postprocess.threshoutput import MultiLabelThreshOutput
            from ppcls.data.postprocess.topk import Topk

            for owner in (Topk, MultiLabelThreshOutput):
                stack.enter_context(patched(owner, parse_class_id_map=method))
        yield
