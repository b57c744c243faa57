"""The folder of corrupted copies an evaluation reads: every image of a PaddleClas list under each of ImageNet-C's
corruptions (`corruptions`) at severities 1-5, made once, seeded per image, corruption and severity.

Layout: `<name>/<severity>/<n>.png` (PNG: lossless, so JPEG compression's artefacts stay as made) and one
PaddleClas list per corruption and severity, `<name>/<severity>.txt` (the source list's format and labels; the
folder is its image_root), so both engines evaluate a copy as an ordinary eval list. `manifest.json`, written
last, holds the key the copies were made for (`cache_key`: the list, its images, how they decode, the seed and
the libraries' versions): a call with the same key reuses them, another key makes them anew.

The folder is the tool's alone (`owned_folder`): one holding anything the tool does not make (`is_copy`: a file
of the user's at any depth, a manifest it did not write) is refused, never emptied. The copies are made in
`<folder>.partial-<pid>` and swapped in by two renames, so the folder is one whole version or, between the
renames, absent; a SIGINT or SIGTERM stops the making between two images (`stopped`) and removes the partial
folder, and the marked leftovers of a killed process are removed, with a line, by the next call. Making takes
the folder's exclusive lock, reuse and evaluation a shared one (`owned_folder.lock`), so one process never
remakes copies another is reading. A copy or list line missing on reuse makes them anew; a copy edited in place
is not noticed there (the key covers the source images, not the copies), and fails the evaluation that reads it
when it no longer loads.

A corruption that fails (raises, or returns another shape) on any image at any severity is left out whole, with
one line saying why; an image that does not decode is a `DataError` naming it.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from typing import List, NamedTuple

import numpy as np
from PIL import Image

from ...core.errors import ConfigError, DataError, TrainingStopped
from .corruptions import CORRUPTIONS, SEVERITIES, corrupt, image_seed, library_versions, read_image
from .lists import read_list_file
from .owned_folder import (
    MARKER,
    Stopped,
    first_existing,
    foreign_entry,
    lock,
    missing_levels,
    remove_empty,
    remove_leftovers,
    swap_in,
)

MANIFEST = "manifest.json"
FORMAT = 3  # how a copies folder is laid out and made; a change makes the copies anew
SEVERITY_NAMES = {str(severity) for severity in SEVERITIES}
LIST_NAMES = {f"{severity}.txt" for severity in SEVERITIES}
SLOW = 30  # seconds: a making that takes longer says how far it is after each corruption


def cache_key(paths, list_path, seed, backend="cv2"):
    """SHA-256 (hex) of the list file's bytes, each listed image's bytes in list order (`paths`), `seed`,
    the decoding `backend`, `FORMAT` and `library_versions()`: the same key, the same copies."""
    digest = hashlib.sha256(f"{FORMAT}\n{seed}\n{backend}\n{library_versions()}\n".encode())
    with open(list_path, "rb") as handle:
        digest.update(handle.read())
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def source_key(image_root, list_path, delimiter=" ", multilabel=False, seed=0, backend="cv2"):
    """The `cache_key` of the copies of a list (read as `make_copies` reads it), without making them. Raises
    `DataError` naming the list's line of a missing image."""
    paths, _, _ = read_list_file(image_root, list_path, delimiter, multilabel)
    return cache_key(paths, list_path, seed, backend)


class CorruptionFailed(Exception):
    """A corruption raised on an image (its error is the `__cause__`): the corruption is left out."""


class Source(NamedTuple):
    """The list the copies are made of: its image `paths`, `labels` (int ``[N]``, or ``[N, L]`` targets), the
    list's `delimiter`, its path and each image's `where` (`<list>:<line>`)."""

    paths: List[str]
    labels: np.ndarray
    delimiter: str
    list_path: str
    where: List[str]


def read_source(image_root, list_path, delimiter, multilabel):
    """The `Source` of a list, read as the dataset reads it (`read_list_file`: a missing image is one
    `DataError` naming its line)."""
    paths, labels, numbers = read_list_file(image_root, list_path, delimiter, multilabel)
    return Source(paths, labels, delimiter, list_path, [f"{list_path}:{number}" for number in numbers])


def list_line(relative, label, delimiter):
    """A list line for the copy at `relative` with the source's `label` (int, or int targets: multi-label)."""
    text = ",".join(str(int(t)) for t in label) if np.ndim(label) else str(int(label))
    return f"{relative}{delimiter}{text}\n"


def make_corruption(name, source, folder, seed, backend="cv2", stopped=lambda: None):
    """Write `name` at every severity of the images of `source` (decoded by `backend`, `read_image`) into
    `folder` (each image read once); {severity: list path}. Raises `DataError` naming the list line of an image
    that does not decode, `TrainingStopped` once `stopped()` names a signal, `CorruptionFailed` where the
    corruption raises (the caller leaves it out), and `OSError` where a copy cannot be written."""
    lines = {severity: [] for severity in SEVERITIES}
    for severity in SEVERITIES:
        os.makedirs(os.path.join(folder, name, str(severity)))
    for index, (path, label) in enumerate(zip(source.paths, source.labels)):
        if stopped():
            raise TrainingStopped(stopped(), 0, 0)
        try:
            pixels, gray = read_image(path, backend)
        except DataError as error:
            raise DataError(f"{source.where[index]}: {error}; replace it or remove its line") from None
        for severity in SEVERITIES:
            try:
                out = corrupt(pixels, name, severity, image_seed(seed, name, severity, index))
            except MemoryError:
                raise  # the machine's, not the corruption's: nothing is recorded
            except Exception as error:  # the corruption's own failure, not an I/O one
                raise CorruptionFailed(name) from error
            relative = f"{name}/{severity}/{index}.png"
            Image.fromarray(out[..., 0] if gray else out).save(os.path.join(folder, relative), compress_level=1)
            lines[severity].append(list_line(relative, label, source.delimiter))
    lists = {}
    for severity in SEVERITIES:
        lists[str(severity)] = f"{name}/{severity}.txt"
        with open(os.path.join(folder, lists[str(severity)]), "w", encoding="utf-8") as handle:
            handle.writelines(lines[severity])
    return lists


def read_manifest(folder):
    """The manifest of the copies in `folder`; None where there is none, or where `manifest.json` is not one
    this tool writes (not JSON, or without its key, lists and left-out corruptions)."""
    try:
        with open(os.path.join(folder, MANIFEST), encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("key"), str):
        return None
    if not all(isinstance(manifest.get(name), dict) for name in ("lists", "left_out")):
        return None
    return manifest


def missing_copy(folder, manifest):
    """What of `manifest` is not in `folder`: the first copy or list missing (relative path), or a list that
    does not have a line per image; None where all is there."""
    expected = {f"{index}.png" for index in range(manifest.get("images", 0))}
    for name, severities in manifest["lists"].items():
        for severity, relative in severities.items():
            if not os.path.isfile(os.path.join(folder, relative)):
                return relative
            with open(os.path.join(folder, relative), "rb") as handle:
                lines = sum(1 for line in handle if line.strip())
            if lines != len(expected):
                return f"{relative}'s lines ({lines} of {len(expected)})"
            where = os.path.join(folder, name, severity)
            found = set(os.listdir(where)) if os.path.isdir(where) else set()
            if expected - found:
                return f"{name}/{severity}/{min(expected - found, key=lambda png: int(png[:-4]))}"
    return None


def is_copy(relative, is_dir):
    """Whether a path in a copies folder (relative to it) is one the tool makes: `<name>` and `<name>/<severity>`
    folders, `<name>/<severity>.txt` lists, `<name>/<severity>/<n>.png` copies, its manifest and marker."""
    if relative in (MANIFEST, MARKER):
        return not is_dir
    parts = relative.split(os.sep)
    if parts[0] not in CORRUPTIONS or len(parts) > 3:
        return False
    if len(parts) == 1:
        return is_dir
    if len(parts) == 2:
        return parts[1] in SEVERITY_NAMES if is_dir else parts[1] in LIST_NAMES
    return not is_dir and parts[1] in SEVERITY_NAMES and re.fullmatch(r"\d+\.png", parts[2]) is not None


def check_folder(folder, output_dir=None, named="--corruptions"):
    """`ConfigError` unless `folder` can take the copies: a new folder, an empty one, or one holding only what
    the tool makes (`is_copy`, with a manifest it wrote where there is one), beside which a folder can be made;
    not a file, nor under one, nor `output_dir` (where the tool writes its log) or a folder around it. Leaves no
    file behind (it makes and removes an empty folder beside `folder` to know it can)."""
    folder = os.path.realpath(folder)
    where = f"{named} {folder}"  # `named`: the option the folder is given by (compare: "--out X: its copies")
    if os.path.islink(folder):
        raise ConfigError(f"{where} is a symlink that leads nowhere (a loop): give a folder")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{where} is a file: give a folder (new, empty, or of copies)")
    if output_dir and os.path.join(os.path.realpath(output_dir), "").startswith(os.path.join(folder, "")):
        raise ConfigError(f"{where} holds Global.output_dir, where the tool writes its log: give another folder")
    if os.path.isdir(folder):
        if os.path.exists(os.path.join(folder, MANIFEST)) and read_manifest(folder) is None:
            raise ConfigError(f"{where}: the folder holds other files; give a new or empty folder")
        foreign = foreign_entry(folder, is_copy)
        if foreign:
            raise ConfigError(f"{where} holds {foreign}, which is not a copy: move it out, or give another folder")
    parent = first_existing(os.path.dirname(folder))
    if not os.path.isdir(parent):
        raise ConfigError(f"{where} is under a file, {parent}: give a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".corruptions-check-", dir=parent))  # the partial folder goes there
    except OSError as error:
        raise ConfigError(f"{where}: cannot write in {parent} ({error.strerror})") from None


def reused(folder, key, say):
    """The manifest of the copies in `folder` when they were made for `key` and none is missing, else None
    (a missing copy is said)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest["key"] != key:
        return None
    missing = missing_copy(folder, manifest)
    if missing:
        say(f"[corruptions] the copies in {folder} lack {missing}: making them anew")
        return None
    made = f"{len(manifest['lists'])} corruptions x 5 severities"
    left_out = "".join(f"; {name} left out: {why}" for name, why in sorted(manifest["left_out"].items()))
    say(f"[corruptions] reused the copies in {folder} ({made}{left_out})")
    return manifest


def make_all(source, partial, seed, backend, say, stopped):
    """Every corruption of the images into `partial`: ({name: lists}, {name: why left out})."""
    lists, left_out, started = {}, {}, time.time()
    for number, name in enumerate(CORRUPTIONS, 1):
        try:
            lists[name] = make_corruption(name, source, partial, seed, backend, stopped)
        except CorruptionFailed as failed:  # the corruption's own failure: it is left out, said in one line
            shutil.rmtree(os.path.join(partial, name), ignore_errors=True)
            error = failed.__cause__
            left_out[name] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            say(f"[corruptions] {name} left out: {left_out[name]} ({library_versions()})")
        seconds = time.time() - started
        if seconds > SLOW and number < len(CORRUPTIONS):
            left = seconds / number * (len(CORRUPTIONS) - number)
            when = f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
            say(f"[corruptions] {number} of {len(CORRUPTIONS)} corruptions made, about {when} left")
    return lists, left_out


def make_copies(
    image_root, list_path, folder, delimiter=" ", multilabel=False, seed=0, say=print, backend="cv2",
    stopped=lambda: None, key=None, named="--corruptions",
):  # fmt: skip
    """The corrupted copies of the list `list_path` (images under `image_root`; `delimiter`, `multilabel` as
    the dataset reads it, decoded as `backend`: `decode_backend`) in `folder`, made, or reused when its manifest
    has this `cache_key` and every copy. Returns the manifest: {"key", "seed", "backend", "library", "source",
    "images", "lists": {name: {severity: list path relative to `folder`}}, "left_out": {name: why}}; `say` gets
    one line per corruption left out and one on what was done. Made beside `folder` and swapped in whole
    (`owned_folder`), under the folder's exclusive lock. Raises `ConfigError` where `folder` cannot take them
    (`check_folder`) or they cannot be written, `DataError` for a bad list or an image that does not decode,
    `TrainingStopped` when `stopped()` names a signal; a failed call leaves nothing it made. `key`: the
    list's `source_key` where the caller has it already (every image is read to compute it); `named`: how its
    errors name `folder` (the option that gives it)."""
    folder = os.path.realpath(folder)
    source = read_source(image_root, list_path, delimiter, multilabel)
    key = key or cache_key(source.paths, list_path, seed, backend)
    check_folder(folder, named=named)
    levels = missing_levels(os.path.dirname(folder))
    prefixed = lambda line: say(f"[corruptions] {line}")  # noqa: E731
    try:
        said = []  # a missing copy is said once, by the first look
        if os.path.isdir(folder):  # copies to reuse: a shared lock, as readers take
            with lock(folder, exclusive=False, say=prefixed, stopped=stopped):
                manifest = reused(folder, key, lambda line: (say(line), said.append(line)))
            if manifest is not None:
                return manifest
        with lock(folder, exclusive=True, say=prefixed, stopped=stopped):
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            remove_leftovers(folder, is_copy, prefixed)
            again = reused(folder, key, lambda line: None if line in said else say(line))  # made meanwhile?
            return again or make_swapped(folder, key, source, seed, say, backend, stopped, named)
    except Stopped as stop:
        remove_empty(levels)
        line = f"stopped by {stop.args[0]} while waiting for another process's copies in {folder}: none made"
        raise TrainingStopped(stop.args[0], 0, 0, line) from None
    except BaseException as error:
        remove_empty(levels)
        if isinstance(error, OSError):
            raise ConfigError(f"{named} {folder}: the copies cannot be written ({error}); nothing kept") from None
        raise


def make_swapped(folder, key, source, seed, say, backend, stopped, named="--corruptions"):
    """The copies made in `<folder>.partial-<pid>` and swapped in: `make_copies`' making (under its lock)."""
    check_folder(folder, named=named)  # again, under the lock: another process may have made copies there meanwhile
    started, partial = time.time(), f"{folder}.partial-{os.getpid()}"
    try:
        os.makedirs(partial)
        open(os.path.join(partial, MARKER), "w").close()
        lists, left_out = make_all(source, partial, seed, backend, say, stopped)
        if not lists:
            why = next(iter(left_out.values()))
            raise ConfigError(f"--corruptions: no corruption ran on the images of {source.list_path} ({why})")
        manifest = {
            "key": key, "seed": seed, "backend": backend, "library": library_versions(),
            "source": os.path.abspath(source.list_path), "images": len(source.paths), "lists": lists,
            "left_out": left_out,
        }  # fmt: skip
        with open(os.path.join(partial, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
        swap_in(partial, folder)  # the marker goes with it, then off
    except TrainingStopped as stop:
        stop.line = (
            f"stopped by {stop.signal_name} while making the corrupted copies of {source.list_path}: none kept, "
            f"{folder} untouched; the same command makes them"
        )
        raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    say(
        f"[corruptions] made {len(lists)} corruptions x 5 severities of {len(source.paths)} images in {folder} "
        f"({time.time() - started:.0f} s)"
    )
    return manifest
