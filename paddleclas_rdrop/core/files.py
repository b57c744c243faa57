"""Files written whole or not at all: whoever reads one (another process, a resumed run, the next call) reads
its old version or its new one, never a part, whatever stops the writing (an error, a full disk, a Ctrl-C)."""

import contextlib
import os
import shutil


@contextlib.contextmanager
def replacing(path):
    """Within the context, a temporary path beside `path` (`.<name>.<pid>.partial`, hidden, short enough for any name;
    an OSError names `path`) to write; on leaving without an error, its bytes are flushed to the disk (`os.fsync`)
    and it is renamed over `path` (`os.replace`: atomic within one file system; the folder flushed after it) with the
    mode of the file it replaces, so that a power loss leaves the old version or the new one, not an empty file. A
    symlink's target is what is replaced. Whatever the writing or the rename raises (OSError, KeyboardInterrupt) is
    raised after the temporary file is removed; `path` keeps its old version, if it had one. A temporary file of
    `path` that a killed process left (SIGKILL, a power loss: its pid is gone) is removed first."""
    path = os.path.realpath(path)
    folder, name = os.path.split(path)
    stem = name.encode()[:200].decode(errors="ignore")  # a name's limit is in bytes (255 on Linux)
    temporary = os.path.join(folder, f".{stem}.{os.getpid()}.partial")
    remove_left_behind(folder, stem)
    try:
        yield temporary
        if os.path.isfile(path):
            shutil.copymode(path, temporary)
        flush_to_disk(temporary)
        os.replace(temporary, path)
        flush_to_disk(folder)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        if isinstance(error, OSError) and error.filename == temporary:  # name the file the user knows
            raise OSError(error.errno, error.strerror, path) from None
        raise


def remove_left_behind(folder, stem):
    """Remove `folder/.<stem>.<pid>.partial` files whose process has ended (another live process's stays)."""
    prefix = f".{stem}."
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        pid = name[len(prefix) : -len(".partial")]
        if name.startswith(prefix) and name.endswith(".partial") and pid.isascii() and pid.isdigit():
            if not process_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(folder, name))


def process_alive(pid):
    """Whether a process `pid` runs (or is a zombie) on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def flush_to_disk(path):
    """`os.fsync` of the file or folder `path`: what was written into it (a folder: its entries) is on the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_whole(path, write, mode="w"):
    """Write `path` through `write(handle)`, `handle` the temporary file of `replacing(path)` opened in `mode`
    ("w": UTF-8 text as given, no newline translated; "wb": bytes); whole or not at all."""
    with replacing(path) as temporary:
        with open(temporary, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            write(handle)


def write_text(path, text):
    """`text` (str) to `path` as UTF-8, whole or not at all (`write_whole`)."""
    write_whole(path, lambda handle: handle.write(text))
