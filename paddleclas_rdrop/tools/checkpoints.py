"""Checkpoints written whole or not at all, on both engines.

PaddleClas's `save_model` (`ppcls.utils.save_load`, the same in the wheel and the source tree) writes
`<prefix>.pdparams`, `.pdopt`, `.pdstates` (and `.pdema`, `best_model/model.pdparams`) straight to their
final names: a kill or a full disk during a save leaves a truncated file that `paddle.load` refuses,
`latest` included. `whole` runs it into a folder beside the output (the same file system), flushes every
file to disk, then moves each into place with one `os.replace`, the `.pdstates` (the epoch a resume
starts from) last; a save that fails leaves the checkpoints already written as they were and raises
`SaveError`.
"""

import contextlib
import functools
import logging
import os
import shutil
import tempfile

from ..core.errors import SaveError


def whole(save_model):
    """`save_model(net, optimizer, metric_info, model_path, ..., prefix=...)` made whole-or-nothing."""

    @functools.wraps(save_model)
    def save(net, optimizer, metric_info, model_path, *args, **kwargs):
        import paddle.distributed as dist

        if dist.get_rank() != 0:  # PaddleClas saves on rank 0 only
            return None
        prefix = kwargs.get("prefix", "ppcls")
        os.makedirs(model_path, exist_ok=True)
        partial = tempfile.mkdtemp(prefix=".partial-", dir=model_path)
        renamer = _RenamePath(partial, model_path)
        logger = logging.getLogger("ppcls")
        logger.addFilter(renamer)
        try:
            save_model(net, optimizer, metric_info, partial, *args, **kwargs)
            written = [
                os.path.relpath(os.path.join(folder, name), partial)
                for folder, _, names in os.walk(partial)
                for name in names
            ]
            for name in written:
                with open(os.path.join(partial, name), "rb") as handle:
                    os.fsync(handle.fileno())
            for name in sorted(written, key=lambda n: n.endswith(".pdstates")):  # the epoch marker last
                os.makedirs(os.path.dirname(os.path.join(model_path, name)), exist_ok=True)
                os.replace(os.path.join(partial, name), os.path.join(model_path, name))
        except OSError as error:
            raise SaveError(
                f"the checkpoint {os.path.join(model_path, prefix)} could not be written ({error.strerror or error}); "
                f"the checkpoints written before it are intact. Free space in {model_path} and resume with "
                f"-o Global.checkpoints={os.path.join(model_path, 'latest')}"
            ) from None
        finally:
            logger.removeFilter(renamer)
            shutil.rmtree(partial, ignore_errors=True)
        return None

    return save


class _RenamePath(logging.Filter):
    """PaddleClas logs where it saved ("Already save model in <path>"): the final path, not the partial one."""

    def __init__(self, partial, final):
        super().__init__()
        self.partial, self.final = partial, final

    def filter(self, record):
        message = record.getMessage()
        if self.partial in message:
            record.msg, record.args = message.replace(self.partial, self.final), ()
        return True


@contextlib.contextmanager
def whole_tree_checkpoints():
    """While PaddleClas's Engine trains in this context, `ppcls.utils.save_load.save_model` (the name its
    Engine calls) is `whole(...)` of itself; the original is put back on leaving."""
    from ppcls.utils import save_load

    original = save_load.save_model
    save_load.save_model = whole(original)
    try:
        yield
    finally:
        save_load.save_model = original
