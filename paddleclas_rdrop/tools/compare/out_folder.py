"""The folder of a comparison (`tools/compare.py --out`) is compare's alone: it writes there only into a new
folder, an empty one, or one of a comparison (its `setup.json`, and nothing but what compare writes:
`is_compare_entry`), checked before anything is written (`check_out`). A folder of the user's (notes, a training
run's folder, a data set) is refused in one line naming --out and the fix, so nothing of theirs is overwritten
or mixed with compare's files. A caller's own files beside compare's (a study's records) are named in `shared`.
"""

import os
import re
import tempfile

from ...core.errors import ConfigError
from ..data.corrupted_copies import is_copy
from ..data.owned_folder import first_existing, foreign_entry
from .arms import ARMS

TOP_FILES = ("setup.json", "results.jsonl", "report.md", "report.png", "robustness.png")
COPIES = "corruptions"  # the corrupted copies (`--corruptions`), an `owned_folder` of `corrupted_copies`
RUN = re.compile(r"(?:" + "|".join(ARMS) + r")_seed-?\d+")
CONFIG = re.compile(r"(?:" + "|".join(ARMS) + r")\.(?:train|eval)\.yaml")


CHECK = ".compare-check-"  # the empty folder `check_out` makes and removes to know it can write


def partial_of(name, names):
    """Whether `name` is the temporary file (`core/files.replacing`: `.<name>.<pid>.partial`) of a name `names`
    (a collection, or a compiled pattern) holds."""
    found = re.fullmatch(r"\.(.+)\.\d+\.partial", name)
    if found is None:
        return False
    return names.fullmatch(found.group(1)) is not None if isinstance(names, re.Pattern) else found.group(1) in names


def is_compare_entry(relative, is_dir, shared=()):
    """Whether a path in a comparison's folder (relative to it) is one compare writes: its records and reports
    (`TOP_FILES`, and their temporary files), `configs/<arm>.<train|eval>.yaml`, `runs/<arm>_seed<n>/` and
    everything its tools write under it, the copies folder (`corrupted_copies.is_copy`, and its versions being
    made or moved aside); or a top-level file of `shared`."""
    parts = relative.split(os.sep)
    top = parts[0]
    copies = re.fullmatch(re.escape(COPIES) + r"(?:\.(?:partial|old)-\d+)?", top)
    if len(parts) == 1:
        if is_dir:
            return top in ("configs", "runs") or copies is not None or top.startswith(CHECK)
        return top in TOP_FILES or top in shared or partial_of(top, TOP_FILES)
    if copies:
        return is_copy(os.path.join(*parts[1:]), is_dir)  # its MARKER too
    if top == "configs":
        made = CONFIG.fullmatch(parts[1]) is not None or partial_of(parts[1], CONFIG)
        return len(parts) == 2 and not is_dir and made
    if top == "runs":
        return RUN.fullmatch(parts[1]) is not None and (is_dir or len(parts) > 2)
    return False


def check_out(out, shared=()):
    """Refuse, with a `ConfigError` naming --out and the fix, an `out` compare may not write into: a file or a
    folder under one, a folder it cannot write in, or a folder that is not new, empty or a comparison's (it
    holds an entry `is_compare_entry` does not claim, or it has compare's files but no `setup.json` of
    compare's: only the copies of a comparison stopped before its setup was recorded are taken without it).
    Writes nothing."""
    from .runs import SETUP, read_results, read_setup

    path = os.path.abspath(out)
    found = first_existing(path)
    if not os.path.isdir(found):
        raise ConfigError(f"--out {out}: {found} is a file; give a folder (new, or of this comparison)")
    if found == path and os.listdir(path):
        foreign = foreign_entry(path, lambda relative, is_dir: is_compare_entry(relative, is_dir, shared))
        fix = "give a new or empty folder as --out (or the --out of a comparison, to resume it)"
        if foreign:
            raise ConfigError(f"--out {out} holds {foreign}, which compare.py does not write: {fix}")
        setup = os.path.join(path, SETUP)
        if os.path.exists(setup):
            try:
                read_setup(setup)
            except ConfigError:
                raise ConfigError(f"--out {out}: its {SETUP} is not one compare.py records: {fix}") from None
        else:
            names = [name for name in sorted(os.listdir(path)) if name not in shared]
            ours = [name for name in names if not name.startswith((COPIES, CHECK))]
            if ours:
                raise ConfigError(f"--out {out} holds {ours[0]} but no {SETUP} of compare.py's: {fix}")
        read_results(path)  # a results file compare cannot read is named before anything is written
    try:
        os.rmdir(tempfile.mkdtemp(prefix=CHECK, dir=found))
    except OSError as error:
        raise ConfigError(
            f"--out {out}: cannot write in {found} ({error.strerror}): give a folder you can write in as --out"
        ) from None
