"""A run's `-o` arguments as its user typed them: the overrides that `$(cat my_lists/overrides.txt)` expanded
into are given back as that file, and an `-o` that a later one sets again is left out (PaddleClas applies them
in order, so the last value wins either way).

The files are the ones `tools/csv_to_lists.py` writes beside its lists (`OVERRIDE_FILES`: `-o key=value` lines),
found from the lists the overrides name: a `DataLoader.*.cls_label_path=my_lists/train_list.txt` makes
`my_lists/overrides.txt` a candidate, used where its overrides appear whole and in order."""

import os
import shlex
from typing import List, Optional, Tuple

OVERRIDE_FILES = ("overrides.txt", "test_overrides.txt")


def read_override_file(path: str) -> Optional[List[str]]:
    """The `key=value` overrides of a file of `-o key=value` words, or None where it is not one."""
    try:
        with open(path, encoding="utf-8") as handle:
            words = shlex.split(handle.read())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not words or len(words) % 2 or any(flag != "-o" for flag in words[::2]):
        return None
    return words[1::2]


def candidate_files(overrides: List[str]) -> List[str]:
    """The `OVERRIDE_FILES` beside the files the `overrides` name, in the order they are named, each once."""
    found: List[str] = []
    for override in overrides:
        value = override.split("=", 1)[-1]
        if not os.path.isfile(value):
            continue
        for name in OVERRIDE_FILES:
            path = os.path.join(os.path.dirname(value), name)
            if path not in found and os.path.isfile(path):
                found.append(path)
    return found


def typed_items(overrides: List[str]) -> List[Tuple[Optional[str], List[str]]]:
    """`overrides` (the `-o` values in order) as [(path, its lines)] for each whole run of one override file's
    lines, in the file's place, and [(None, [override])] for each other override, in order."""
    owner: List[Optional[str]] = [None] * len(overrides)
    files = {path: read_override_file(path) for path in candidate_files(overrides)}
    for path, lines in files.items():
        for start in range(len(overrides) - len(lines or []) + 1) if lines else ():
            span = range(start, start + len(lines))
            if overrides[start : start + len(lines)] == lines and all(owner[i] is None for i in span):
                for i in span:
                    owner[i] = path
                break
    items: List[Tuple[Optional[str], List[str]]] = []
    for index, override in enumerate(overrides):
        if owner[index] is None:
            items.append((None, [override]))
        elif index == 0 or owner[index - 1] != owner[index]:
            items.append((owner[index], files[owner[index]]))
    return items


def as_typed(overrides: List[str], leave_out: Tuple[str, ...] = ()) -> str:
    """The shell words of `overrides` as typed (`typed_items`): `$(cat <file>)` for an override file, `-o
    key=value` for the others, without an `-o` whose key a later override sets again or whose key is in
    `leave_out`; quoted for a POSIX shell."""
    words, later = [], set()
    for path, lines in reversed(typed_items(overrides)):
        key = lines[0].split("=", 1)[0]
        if path is not None:
            words.append(f"$(cat {shlex.quote(path)})")
        elif key not in later and key not in leave_out:
            words.append(f"-o {shlex.quote(lines[0])}")
        later |= {line.split("=", 1)[0] for line in lines}
    return " ".join(reversed(words))
