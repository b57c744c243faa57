"""Files written whole or not at all: whoever reads one (another process, a resumed run, the next call) reads
its old version or its new one, never a part, whatever stops the writing (an error, a full disk, a Ctrl-C)."""

import contextlib
import hashlib
import os
import shutil
import time

LEFT_BEHIND_SECONDS = 3600  # a temporary file older than this, of a process gone, was left by a killed writer


@contextlib.contextmanager
def replacing(path):
    """Within the context, a temporary path beside `path` (`.<name>.<pid>.partial`, hidden; a long name shortened by
    `temporary_stem`; an OSError names `path`) to write, in `path`'s folder, made with its missing parents
    (`make_folders`: as PaddleClas makes `Global.output_dir`; removed again if the write fails); on leaving without
    an error, its bytes are flushed to the disk (`os.fsync`) and it is renamed over `path` (`os.replace`: atomic
    within one file system; then the folder is flushed where the file system can) with the mode of the file it
    replaces, so that a power loss leaves the old version or the new one, not an empty file. A symlink's target is
    what is replaced. Whatever the writing or the rename raises (OSError, KeyboardInterrupt) is raised after the
    temporary file is removed; `path` keeps its old version, if it had one. A temporary file of `path` that a killed
    process left (SIGKILL, a power loss: its pid gone, and older than `LEFT_BEHIND_SECONDS`, as a writer in another
    container on the folder has pids of its own) is removed."""
    path = os.path.realpath(path)
    folder, name = os.path.split(path)
    stem = temporary_stem(name)
    temporary = os.path.join(folder, f".{stem}.{os.getpid()}.partial")
    made = make_folders(folder)
    remove_left_behind(folder, stem)
    try:
        yield temporary
        flush_to_disk(temporary)
        if os.path.isfile(path):
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        for made_folder in reversed(made):  # deepest first; one that holds a file now stays
            with contextlib.suppress(OSError):
                os.rmdir(made_folder)
        if isinstance(error, OSError) and error.errno and error.filename in (temporary, None):  # the file one knows
            raise OSError(error.errno, error.strerror, path) from None
        raise
    with contextlib.suppress(OSError):  # the rename is done: a folder that cannot be flushed (CIFS) is no error
        flush_to_disk(folder)


def make_folders(folder):
    """Make `folder` and its missing parents; the folders made, outermost first ([] when it existed). An OSError
    names the path that could not be made (a name too long, a file in the way)."""
    missing = []
    while folder and not os.path.lexists(folder) and folder not in missing:  # what exists is left to `os.mkdir`
        missing.append(folder)
        folder = os.path.dirname(folder)
    made = []
    try:
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not os.path.isdir(path):  # a file made meanwhile; a folder another process made is fine
                    raise
                continue
            made.append(path)
    except BaseException:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise
    return made


def temporary_stem(name):
    """`name` as its temporary files' names hold it: itself up to 200 bytes; a longer one (a name's limit is 255
    bytes on Linux) its first 180 bytes and 16 hex digits of its SHA-256, so that two long names that begin alike
    have temporary files of their own."""
    raw = os.fsencode(name)
    if len(raw) <= 200:
        return name
    return f"{os.fsdecode(raw[:180])}~{hashlib.sha256(raw).hexdigest()[:16]}"


def remove_left_behind(folder, stem):
    """Remove `folder/.<stem>.<pid>.partial` files of a process that has ended, older than `LEFT_BEHIND_SECONDS`;
    what cannot be listed or removed stays, without a word (the write goes on)."""
    prefix = f".{stem}."
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            pid = name[len(prefix) : -len(".partial")]
            if not (name.startswith(prefix) and name.endswith(".partial") and pid.isascii() and pid.isdigit()):
                continue
            left = os.path.join(folder, name)
            if not process_alive(int(pid)) and time.time() - os.lstat(left).st_mtime > LEFT_BEHIND_SECONDS:
                os.remove(left)


def process_alive(pid):
    """Whether a process `pid` runs (or is a zombie) on this machine; a number that is no process id (0, or above
    the largest) counts as one: what it names is not this process's to judge."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's; no pid
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
