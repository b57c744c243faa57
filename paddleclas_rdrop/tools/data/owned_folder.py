"""A folder a tool owns and replaces whole: it holds only the files the tool makes (`foreign_entry` finds any
other), a new version is made beside it (`<folder>.partial-<pid>`) and swapped in with two renames
(`swap_in`: the old version goes to `<folder>.old-<pid>` first, so the folder is always one whole version or,
between the renames, absent), the leftovers of a killed process, marked as the tool's by a `MARKER` file, are
removed by the next one (`remove_leftovers`), and processes take a lock per folder (`lock`) so that none
replaces a version another is reading. Nothing that is not the tool's is ever removed."""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time

from ...core.errors import stop_signal
from ...core.files import process_alive

MARKER = ".making"  # in a version being made or moved aside: the tool's, removable once its process is gone


def foreign_entry(folder, own):
    """The first path under `folder` (relative, in walk order) that `own(relative, is_dir)` does not claim, or
    None. A symlink inside is foreign (it is never followed)."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()  # walked in name order: the same entry named every time
        for name, is_dir in [(name, True) for name in dirs] + [(name, False) for name in sorted(files)]:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            if os.path.islink(path) or not own(relative, is_dir):
                return relative
    return None


def remove_leftovers(folder, own, say):
    """Remove `<folder>.partial-<pid>` and `<folder>.old-<pid>` folders whose process is gone, which hold its
    `MARKER` and only what `own` claims, one line each (`say`); a folder of that name without the marker (a
    user's backup) stays."""
    parent, base = os.path.split(folder)
    for name in sorted(os.listdir(parent)):
        found = re.fullmatch(re.escape(base) + r"\.(partial|old)-(\d+)", name)
        path = os.path.join(parent, name)
        if not found or not os.path.isdir(path) or os.path.islink(path) or process_alive(int(found.group(2))):
            continue
        if not os.path.isfile(os.path.join(path, MARKER)):
            continue
        if foreign_entry(path, own) is None:
            shutil.rmtree(path)
            say(f"removed {path}, which a stopped process left")


def swap_in(partial, folder):
    """`partial` (holding its `MARKER`) becomes `folder`; the version of `folder` there before (the caller
    checked it is the tool's) is marked, moved aside by a rename, then removed; the marker is taken off last."""
    aside = f"{folder}.old-{os.getpid()}"
    if os.path.isdir(folder):
        open(os.path.join(folder, MARKER), "w").close()
        os.rename(folder, aside)
    os.rename(partial, folder)
    shutil.rmtree(aside, ignore_errors=True)
    os.remove(os.path.join(folder, MARKER))


@contextlib.contextmanager
def lock(folder, exclusive, say, stopped=lambda: None, poll=0.2):
    """Within the context, a lock on `folder` (POSIX `flock` on a file named after its real path in a folder
    of the user's in the temporary folder, so nothing is added beside it): `exclusive` to make it, shared to
    read it. A process that must wait says so once (`say`) and tries again every `poll` seconds until it has
    it or `stopped()` names a signal (or a KeyboardInterrupt comes), which raises `Stopped`."""
    where = os.path.join(tempfile.gettempdir(), f"paddleclas-rdrop-locks-{os.getuid()}")
    os.makedirs(where, mode=0o700, exist_ok=True)
    name = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:32]
    handle = os.open(os.path.join(where, f"{name}.lock"), os.O_RDONLY | os.O_CREAT, 0o600)
    kind = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        waited = False
        while True:
            try:
                fcntl.flock(handle, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    say(f"waiting for another process {'reading or making' if exclusive else 'making'} {folder}")
                    waited = True
                try:
                    if stopped():
                        raise Stopped(stopped()) from None
                    time.sleep(poll)
                except KeyboardInterrupt as stop:  # Python's SIGINT handler (or a tool's SIGTERM as one: its name)
                    raise Stopped(stop_signal(stop)) from None
        yield
    finally:
        os.close(handle)


class Stopped(Exception):
    """A signal (its name, `args[0]`) came while a process waited for a lock."""


def missing_levels(path):
    """The folders of `path` and its parents that do not exist, deepest first."""
    levels = []
    while path and not os.path.exists(path):
        levels.append(path)
        path = os.path.dirname(path)
    return levels


def first_existing(path):
    """`path` (absolute) or its nearest parent that exists: where a folder made at `path` would go."""
    levels = missing_levels(path)
    return os.path.dirname(levels[-1]) if levels else path


def remove_empty(levels):
    """Remove the folders `levels` (deepest first) that exist and are empty."""
    for path in levels:
        if os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)
