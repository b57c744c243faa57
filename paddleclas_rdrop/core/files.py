"""Files written whole or not at all: whoever reads one (another process, a resumed run, the next call) reads
its old version or its new one, never a part, whatever stops the writing (an error, a full disk, a Ctrl-C)."""

import contextlib
import os


def write_whole(path, write, mode="w"):
    """Write `path` through `write(handle)`, `handle` a temporary file beside it (`<path>.partial-<pid>`) opened in
    `mode` ("w": UTF-8 text as given, no newline translated; "wb": bytes), then renamed over `path` (`os.replace`:
    atomic within one file system). Whatever `write` or the rename raises (OSError, KeyboardInterrupt) is raised
    after the temporary file is removed; `path` keeps its old version, if it had one."""
    temporary = f"{path}.partial-{os.getpid()}"
    try:
        with open(temporary, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def write_text(path, text):
    """`text` (str) to `path` as UTF-8, whole or not at all (`write_whole`)."""
    write_whole(path, lambda handle: handle.write(text))
