"""A file is written whole or not at all: a write that fails or is interrupted at any point leaves the old
version and no temporary file; text and bytes writers (json, np.savez) read back as written."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.core.files import LEFT_BEHIND_SECONDS, replacing, write_text, write_whole

STOPS = (None, ValueError, KeyboardInterrupt, OSError)  # none, an error, a Ctrl-C, a full disk


@settings(max_examples=30, deadline=None)
@given(old=st.text(), new=st.text(), stop=st.sampled_from(STOPS))
def test_a_write_stopped_at_any_point_leaves_the_old_version_and_no_temporary_file(tmp_path_factory, old, new, stop):
    folder = tmp_path_factory.mktemp("files")
    path = folder / "results.json"
    write_text(str(path), old)

    def write(handle):
        handle.write(new)
        if stop is not None:
            raise stop()

    if stop is None:
        write_whole(str(path), write)
    else:
        with pytest.raises(stop):
            write_whole(str(path), write)
    with open(path, encoding="utf-8", newline="") as handle:  # as written, "\r" too
        assert handle.read() == (new if stop is None else old)
    assert os.listdir(folder) == ["results.json"]


def test_a_rename_that_fails_after_the_writing_leaves_no_temporary_file(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(OSError):
        write_text(str(tmp_path / "taken"), "text")  # a file cannot replace a folder
    assert sorted(os.listdir(tmp_path)) == ["taken"]


def test_bytes_and_text_writers_read_back(tmp_path):
    scores, targets = np.random.default_rng(0).random((4, 3)), np.eye(4, 3)
    write_whole(str(tmp_path / "scores"), lambda handle: np.savez(handle, scores=scores, targets=targets), mode="wb")
    with np.load(tmp_path / "scores") as data:  # no ".npz" added to a name without it
        assert np.array_equal(data["scores"], scores) and np.array_equal(data["targets"], targets)
    write_text(str(tmp_path / "counts.json"), json.dumps({"ü": [1, 2]}))
    assert json.loads((tmp_path / "counts.json").read_text(encoding="utf-8")) == {"ü": [1, 2]}
    assert sorted(os.listdir(tmp_path)) == ["counts.json", "scores"]


def test_a_symlink_s_target_is_written_with_its_mode_and_a_long_name_fits(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    target.chmod(0o640)
    (tmp_path / "link.json").symlink_to(target)
    write_text(str(tmp_path / "link.json"), "new")
    assert (tmp_path / "link.json").is_symlink() and target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    long, wide = tmp_path / ("n" * 250), tmp_path / ("名" * 84)  # 250 and 252 bytes: near the limit of a name
    write_text(str(long), "fits")
    write_text(str(wide), "fits")
    assert long.read_text() == "fits" and wide.read_text() == "fits"
    assert sorted(os.listdir(tmp_path)) == sorted(["real.json", "link.json", long.name, wide.name])
    with pytest.raises(
        OSError
    ) as failed:  # a file where its folder must be: the error names the path, not the temporary
        write_text(str(tmp_path / "real.json" / "x.json"), "text")
    assert failed.value.filename == str(tmp_path / "real.json" / "x.json")


def test_two_long_names_that_begin_alike_are_written_through_temporary_files_of_their_own(tmp_path):
    first, second = (str(tmp_path / ("名" * 70 + end)) for end in ("a" * 30, "b" * 30))  # 240 bytes, 210 alike
    with replacing(first) as one, replacing(second) as other:
        assert one != other
        assert all(len(os.fsencode(os.path.basename(path))) <= 255 for path in (one, other))
        for path, text in ((one, "first"), (other, "second")):
            with open(path, "w") as handle:
                handle.write(text)
    assert open(first).read() == "first" and open(second).read() == "second"
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(path) for path in (first, second))


def test_the_new_version_is_on_the_disk_before_the_rename_and_the_rename_after_it(tmp_path, monkeypatch):
    """A power loss after the rename must not leave an empty file (ext4's delayed allocation does that to a
    renamed file whose bytes were never flushed): fsync of the file, the rename, fsync of the folder."""
    calls, fsync, replace = [], os.fsync, os.replace
    monkeypatch.setattr(
        os, "fsync", lambda fd: calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or fsync(fd)
    )
    monkeypatch.setattr(os, "replace", lambda a, b: calls.append(("replace", str(a), str(b))) or replace(a, b))
    write_text(str(tmp_path / "record.json"), "{}")
    temporary = calls[1][1]
    assert calls == [
        ("fsync", temporary),
        ("replace", temporary, str(tmp_path / "record.json")),
        ("fsync", str(tmp_path)),
    ]
    assert os.path.basename(temporary).startswith(".record.json.") and (tmp_path / "record.json").read_text() == "{}"


def test_a_temporary_file_a_killed_writer_left_is_removed_and_a_live_or_young_one_s_kept(tmp_path):
    """Kept: a live process's, one younger than LEFT_BEHIND_SECONDS (a writer in another container on the folder
    has pids this process cannot see), one whose number is no pid, another file's."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left, live = f".record.json.{int(ended.stdout)}.partial", f".record.json.{os.getppid()}.partial"
    kept = [live, ".record.json.0.partial", ".record.json.99999999999999999999.partial", ".other.json.1.partial"]
    for name in (left, *kept):
        (tmp_path / name).write_text("part")
        old = time.time() - LEFT_BEHIND_SECONDS - 60
        os.utime(tmp_path / name, (old, old))
    young = f".record.json.{int(ended.stdout) + 1_000_000}.partial"
    (tmp_path / young).write_text("part")
    write_text(str(tmp_path / "record.json"), "{}")
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, young, "record.json"])


def test_a_folder_that_cannot_be_flushed_after_the_rename_is_no_error(tmp_path, monkeypatch):
    """Some file systems refuse fsync of a folder (CIFS: EINVAL): the file is replaced, so the write succeeded."""
    fsync = os.fsync

    def refusing(fd):
        if os.path.isdir(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(22, "Invalid argument")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", refusing)
    write_text(str(tmp_path / "r.json"), "new")
    assert (tmp_path / "r.json").read_text() == "new" and os.listdir(tmp_path) == ["r.json"]


def test_missing_folders_are_made_and_removed_again_when_the_write_fails(tmp_path):
    path = tmp_path / "a" / "b" / "x.txt"
    write_text(str(path), "one")
    assert path.read_text() == "one"
    with pytest.raises(KeyboardInterrupt):
        with replacing(str(tmp_path / "c" / "d" / "y.txt")):
            raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == ["a"]  # c and d made, then removed
    (tmp_path / "taken").write_text("")
    with pytest.raises(NotADirectoryError) as refused:
        write_text(str(tmp_path / "taken" / "e" / "z.txt"), "two")
    assert refused.value.filename == str(tmp_path / "taken" / "e") and (tmp_path / "taken").read_text() == ""
