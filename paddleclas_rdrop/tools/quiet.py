"""What the tools do not print: start-up lines that tell a user nothing they can act on.

- Paddle's "No ccache found" warning (about compiling C++ extensions, which the tools never do).
- Paddle's "OMP_NUM_THREADS set to N, not 1 ... PLEASE USE OMP_NUM_THREADS WISELY" when the tools
  use the machine's cores on purpose; the tools' first line says how many threads run.
- The two faiss lines of the paddleclas wheel (it loads faiss for image retrieval).
- PaddleClas's "A new field (...) detected!" for every `-o` key the YAML does not spell out.
- Paddle's "full_graph=False don't support input_spec arguments" warning at every export (PaddleClas's
  export code passes an input spec; the export is right, and nothing in it is the user's to change).
- The second copy of every log line when both the wheel's and the tree's PaddleClas logger set
  up the one `ppcls` logger (each adds a console handler).
"""

import contextlib
import io
import logging
import sys
import warnings

PADDLE_THREAD_ADVICE = ("WARNING: OMP_NUM_THREADS set to", "PLEASE USE OMP_NUM_THREADS WISELY.")


class _DropLines(io.TextIOBase):
    """A text stream that passes every line to `stream` except those starting with `prefixes`."""

    def __init__(self, stream, prefixes):
        self.stream, self.prefixes, self.pending = stream, prefixes, ""

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if not line.startswith(self.prefixes):
                self.stream.write(line + "\n")
        return len(text)

    def flush(self):
        if self.pending and not self.pending.startswith(self.prefixes):
            self.stream.write(self.pending)
        self.pending = ""
        self.stream.flush()


@contextlib.contextmanager
def dropping_lines(stream_name, prefixes):
    """Within the context, `sys.<stream_name>` (stdout or stderr) drops the lines that start with
    `prefixes`; the original stream is put back on leaving, whatever happens inside."""
    original = getattr(sys, stream_name)
    filtered = _DropLines(original, prefixes)
    setattr(sys, stream_name, filtered)
    try:
        yield
    finally:
        filtered.flush()
        setattr(sys, stream_name, original)


def import_paddle_quietly():
    """`import paddle` without the start-up noise above. Process-wide and kept for the life of the tool's
    process (a tool imports paddle once): two `warnings` filters (ccache, export input spec) and the
    `faiss.loader` log level WARNING; `warnings.resetwarnings()` and the logger's `setLevel` undo them."""
    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message="full_graph=False don't support input_spec")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    with dropping_lines("stderr", PADDLE_THREAD_ADVICE):
        import paddle  # noqa: F401


def get_config_quietly(config_module, path, overrides):
    """PaddleClas's `get_config`, without its "A new field (...) detected!" lines."""
    with dropping_lines("stdout", ("A new field (", "A new Series field (")):
        return config_module.get_config(path, overrides=overrides, show=False)


def leave_the_ppcls_logger_to_the_tree():
    """Take the wheel's console handler off the `ppcls` logger (the wheel adds it on import), so
    that the tree's logger, set up next by PaddleClas's Engine, adds the only one. Kept for the life of
    the process: PaddleClas's `init_logger` puts a console handler back whenever it is called."""
    logger = logging.getLogger("ppcls")
    for handler in [h for h in logger.handlers if h.get_name() == "stream_handler"]:
        logger.removeHandler(handler)
