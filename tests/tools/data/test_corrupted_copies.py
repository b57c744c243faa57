"""The folder of corrupted copies (`paddleclas_rdrop.tools.data.corrupted_copies`): copies of grayscale and RGB
images in the decoded image's size, the list's format and labels; made once and reused, made anew when an image
changes or a copy is missing; of the image as the engines decode it; a corruption that fails at the images'
resolution left out in one line; the folder the tool's alone (a user's files refused and kept); a stop or a
killed process leaves nothing behind."""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from paddleclas_rdrop.core.errors import ConfigError, DataError, TrainingStopped
from paddleclas_rdrop.tools.data.corrupted_copies import check_folder, make_copies
from paddleclas_rdrop.tools.data.corruptions import CORRUPTIONS, SEVERITIES, read_image
from paddleclas_rdrop.tools.data.lists import decode
from paddleclas_rdrop.tools.data.owned_folder import Stopped, lock


def write_list(folder, size, modes, multilabel=False):
    """One `size` px image per mode of `modes` in `folder/imgs` (seeded noise) and its list `folder/list.txt`:
    `imgs/<i>.png <i>`, or with `multilabel` `imgs/<i>.png<TAB>targets`; the list's label texts."""
    rng = np.random.default_rng(0)
    (folder / "imgs").mkdir(parents=True)
    labels = []
    for index, mode in enumerate(modes):
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / "imgs" / f"{index}.png")
        labels.append(f"{index % 2},1,0" if multilabel else str(index))
    separator = "\t" if multilabel else " "
    (folder / "list.txt").write_text("".join(f"imgs/{i}.png{separator}{t}\n" for i, t in enumerate(labels)))
    return labels


def test_copies_keep_size_mode_and_labels_are_made_once_and_anew_when_an_image_changes(tmp_path):
    labels = write_list(tmp_path, 28, ["L", "RGB", "L"])
    said = []
    out = str(tmp_path / "copies")
    manifest = make_copies(str(tmp_path), str(tmp_path / "list.txt"), out, say=said.append)
    assert manifest["images"] == 3 and set(manifest["lists"]) | set(manifest["left_out"]) == set(CORRUPTIONS)
    assert manifest["left_out"] == {}  # all 15 run at 28 px, glass_blur with scikit-image's channel_axis
    for name, lists in manifest["lists"].items():
        assert sorted(lists) == [str(s) for s in SEVERITIES]
        for severity, relative in lists.items():
            lines = (tmp_path / "copies" / relative).read_text().splitlines()
            assert [line.split(" ")[1] for line in lines] == labels
            for index, line in enumerate(lines):
                with Image.open(tmp_path / "copies" / line.split(" ")[0]) as copy:
                    assert copy.size == (28, 28) and copy.mode == ("RGB" if index == 1 else "L"), (name, severity)
    for name in ("gaussian_noise", "glass_blur"):
        severe = np.asarray(Image.open(tmp_path / "copies" / name / "5" / "0.png"), np.int64)
        assert np.abs(severe - np.asarray(Image.open(tmp_path / "imgs" / "0.png"), np.int64)).mean() > 10, name
    assert said[-1].startswith("[corruptions] made ") and all("\n" not in line for line in said)

    stamp = os.stat(tmp_path / "copies" / "fog" / "3" / "1.png").st_mtime_ns
    said.clear()
    assert make_copies(str(tmp_path), str(tmp_path / "list.txt"), out, say=said.append) == manifest
    assert said == [f"[corruptions] reused the copies in {out} ({len(manifest['lists'])} corruptions x 5 severities)"]
    assert os.stat(tmp_path / "copies" / "fog" / "3" / "1.png").st_mtime_ns == stamp

    Image.new("L", (28, 28), 7).save(tmp_path / "imgs" / "2.png")  # the same list, one image changed
    again = make_copies(str(tmp_path), str(tmp_path / "list.txt"), out, say=said.append)
    assert again["key"] != manifest["key"] and said[-1].startswith("[corruptions] made ")
    assert not [name for name in os.listdir(tmp_path) if ".partial-" in name]


def test_a_multilabel_list_keeps_its_tab_and_targets(tmp_path):
    targets = write_list(tmp_path, 32, ["RGB", "RGB"], multilabel=True)
    manifest = make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "c"), "\t", True, say=print)
    lines = (tmp_path / "c" / manifest["lists"]["contrast"]["2"]).read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == targets


def test_a_corruption_that_fails_at_the_resolution_is_left_out_in_one_line(tmp_path):
    write_list(tmp_path, 2, ["RGB"])  # pixelate resizes a 2 px image to 1.2 px: 0 after rounding
    said = []
    manifest = make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "c"), say=said.append)
    assert manifest["left_out"]["pixelate"] == "ValueError: height and width must be > 0"
    assert "pixelate" not in manifest["lists"] and not (tmp_path / "c" / "pixelate").exists()
    lines = [line for line in said if " left out: " in line]
    assert len(lines) == len(manifest["left_out"]) and all("\n" not in line for line in lines)
    assert any(line.startswith("[corruptions] pixelate left out: ValueError: height and width") for line in lines)
    said.clear()  # reused: the line says again what is left out
    make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "c"), say=said.append)
    assert len(said) == 1 and "; pixelate left out: ValueError: height and width must be > 0" in said[0]


def test_a_folder_of_other_files_is_refused_and_kept(tmp_path):
    write_list(tmp_path, 28, ["L"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="mine holds notes.txt, which is not a copy: move it out"):
        make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "mine"), say=print)
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


def test_a_copy_is_of_the_image_the_engines_decode_a_turned_photo_and_a_16_bit_scan(tmp_path):
    """cv2.imdecode (DecodeImage's default) turns a JPEG by its EXIF orientation and scales 16 bits to 8; PIL
    does neither. The copies start from what the model sees clean: the same shape, and at brightness 1 close
    to the source's pixels as decoded (not PIL's unturned or clipped ones)."""
    (tmp_path / "imgs").mkdir()
    photo = np.zeros((20, 40, 3), np.uint8)
    photo[:, :20] = 200
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees clockwise when shown
    Image.fromarray(photo).save(tmp_path / "imgs" / "photo.jpg", exif=exif)
    scan = (np.arange(24 * 24).reshape(24, 24) * 100).astype(np.uint16)  # up to 57,500 of 65,535
    Image.fromarray(scan).save(tmp_path / "imgs" / "scan.png")
    (tmp_path / "list.txt").write_text("imgs/photo.jpg 0\nimgs/scan.png 1\n")
    manifest = make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "c"), say=print)
    for index, name in enumerate(("photo.jpg", "scan.png")):
        source = decode(str(tmp_path / "imgs" / name)).astype(np.int64)
        copy = decode(str(tmp_path / "c" / "brightness" / "1" / f"{index}.png")).astype(np.int64)
        assert copy.shape == source.shape, name  # (40, 20, 3) for the photo: turned as cv2 turns it
        assert np.abs(copy - source).mean() < 40, name  # brightness 1 adds 0.1 in HSV value: about 25 levels
    assert manifest["backend"] == "cv2"
    assert read_image(str(tmp_path / "imgs" / "photo.jpg"), "pil")[0].shape == (20, 40, 3)  # DecodeImage's pil


@pytest.mark.parametrize("damage", ["not an image", "truncated"])
def test_an_image_that_does_not_decode_is_one_error_naming_its_line_and_nothing_is_written(tmp_path, damage):
    write_list(tmp_path, 28, ["L", "L"])
    image = tmp_path / "imgs" / "1.png"
    image.write_bytes(b"not an image" if damage == "not an image" else image.read_bytes()[:60])  # header kept
    with pytest.raises(DataError, match=rf"{tmp_path / 'list.txt'}:2: image {image} (cannot be read|does not decode)"):
        make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "c"), say=print)
    assert sorted(os.listdir(tmp_path)) == ["imgs", "list.txt"]  # no copies folder, no partial one


MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK")


def write_image(path, mode, width, height, seed):
    """A `width` x `height` image of PIL `mode` with seeded noise; CMYK as a JPEG, the others as PNG."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").convert(mode)
    image.save(path.with_suffix(".jpg" if mode == "CMYK" else ".png"))
    return path.with_suffix(".jpg" if mode == "CMYK" else ".png").name


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(MODES), st.integers(1, 40), st.integers(1, 40), st.integers(0, 9)),
        min_size=1,
        max_size=3,
    )
)
def test_any_mode_and_size_gives_copies_the_engines_decode_as_the_source_or_one_line_left_out(images):
    """Whatever the images' modes and sizes: every copy made decodes (as DecodeImage does) to its source's
    decoded shape and keeps its label, and every corruption not made is left out with a one-line reason."""
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        (root / "imgs").mkdir()
        names = [write_image(root / "imgs" / str(i), *image) for i, image in enumerate(images)]
        (root / "list.txt").write_text("".join(f"imgs/{name} {i % 3}\n" for i, name in enumerate(names)))
        said = []
        manifest = make_copies(folder, str(root / "list.txt"), str(root / "c"), say=said.append)
        assert set(manifest["lists"]) | set(manifest["left_out"]) == set(CORRUPTIONS)
        assert all("\n" not in why for why in manifest["left_out"].values())
        shapes = [decode(str(root / "imgs" / name)).shape for name in names]
        for lists in manifest["lists"].values():
            for relative in lists.values():
                lines = (root / "c" / relative).read_text().splitlines()
                assert [line.split(" ")[1] for line in lines] == [str(i % 3) for i in range(len(names))]
                for line, shape in zip(lines, shapes):
                    assert decode(str(root / "c" / line.split(" ")[0])).shape == shape, line


def make(tmp_path, folder, **extra):
    return make_copies(str(tmp_path), str(tmp_path / "list.txt"), str(folder), **{"say": print, **extra})


def test_a_users_folder_is_refused_whole_never_emptied(tmp_path):
    write_list(tmp_path, 28, ["L"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"key": "v1"}')  # a manifest the tool did not write
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="the folder holds other files; give a new or empty folder"):
        make(tmp_path, mine)
    copies = tmp_path / "copies"
    make(tmp_path, copies)
    (copies / "NOTES.md").write_text("mine")  # a user's file among the copies
    Image.new("L", (28, 28), 7).save(tmp_path / "imgs" / "0.png")  # another image: the copies are made anew
    with pytest.raises(ConfigError, match=r"holds NOTES.md, which is not a copy: move it out"):
        make(tmp_path, copies)
    assert (mine / "notes.txt").read_text() == "keep me" and (copies / "NOTES.md").read_text() == "mine"
    (tmp_path / "afile").write_text("x")
    for path, refusal in ((tmp_path / "afile", "is a file"), (tmp_path / "afile" / "c", "is under a file")):
        with pytest.raises(ConfigError, match=refusal):
            check_folder(str(path))
    with pytest.raises(ConfigError, match="holds Global.output_dir, where the tool writes its log"):
        check_folder(str(tmp_path / "out"), str(tmp_path / "out"))
    assert (tmp_path / "afile").read_text() == "x"


def test_a_symlinked_folder_gets_the_copies_and_stays_a_link(tmp_path):
    write_list(tmp_path, 28, ["L"])
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "target", tmp_path / "link")
    make(tmp_path, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target" / "manifest.json").exists()


def test_a_missing_copy_makes_them_anew_in_one_line(tmp_path):
    write_list(tmp_path, 28, ["L", "RGB"])
    make(tmp_path, tmp_path / "c")
    os.remove(tmp_path / "c" / "fog" / "3" / "1.png")
    said = []
    make(tmp_path, tmp_path / "c", say=said.append)
    assert said[0] == f"[corruptions] the copies in {tmp_path / 'c'} lack fog/3/1.png: making them anew"
    assert len([line for line in said if " lack " in line]) == 1  # said once, though looked at twice
    assert (tmp_path / "c" / "fog" / "3" / "1.png").exists() and said[-1].startswith("[corruptions] made ")


def test_a_stop_keeps_nothing_and_a_killed_makers_partial_folder_goes_with_a_line(tmp_path):
    write_list(tmp_path, 28, ["L", "L"])
    calls = []
    stopped = lambda: "SIGTERM" if calls.append(1) or len(calls) > 3 else None  # noqa: E731
    with pytest.raises(TrainingStopped) as stop:
        make(tmp_path, tmp_path / "c", stopped=stopped)
    assert stop.value.signal_name == "SIGTERM" and "none kept" in stop.value.line and "\n" not in stop.value.line
    assert sorted(os.listdir(tmp_path)) == ["imgs", "list.txt"]
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()  # a pid no process has now
    for pid in (dead.pid, os.getppid()):  # killed, and alive (another maker)
        (tmp_path / f"c.partial-{pid}").mkdir()
        (tmp_path / f"c.partial-{pid}" / ".making").write_text("")
    said = []
    make(tmp_path, tmp_path / "c", say=said.append)
    assert f"[corruptions] removed {tmp_path / f'c.partial-{dead.pid}'}, which a stopped process left" in said
    assert not (tmp_path / f"c.partial-{dead.pid}").exists() and (tmp_path / f"c.partial-{os.getppid()}").exists()


def test_a_users_file_at_any_depth_or_beside_a_look_alike_manifest_is_refused_and_kept(tmp_path):
    write_list(tmp_path, 28, ["L"])
    make(tmp_path, tmp_path / "c")
    (tmp_path / "c" / "fog" / "notes.txt").write_text("mine")
    (tmp_path / "c" / "snow" / "3" / "mine").mkdir()
    Image.new("L", (28, 28), 7).save(tmp_path / "imgs" / "0.png")  # another image: the copies are made anew
    with pytest.raises(ConfigError, match=r"c holds fog/notes.txt, which is not a copy"):
        make(tmp_path, tmp_path / "c")
    (tmp_path / "u" / "fog").mkdir(parents=True)
    (tmp_path / "u" / "fog" / "data.csv").write_text("precious")
    (tmp_path / "u" / "manifest.json").write_text('{"key": "mine", "lists": {}, "left_out": {}}')
    with pytest.raises(ConfigError, match=r"u holds fog/data.csv, which is not a copy"):
        make(tmp_path, tmp_path / "u")
    assert (tmp_path / "c" / "fog" / "notes.txt").exists() and (tmp_path / "u" / "fog" / "data.csv").exists()


def test_what_a_killed_swap_left_is_the_tools_and_goes_with_a_line(tmp_path):
    write_list(tmp_path, 28, ["L"])
    made = make(tmp_path, tmp_path / "c")
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    for kind in ("old", "partial"):  # the aside version and a finished partial a kill left, marked
        shutil.copytree(tmp_path / "c", tmp_path / f"c.{kind}-{dead.pid}")
        (tmp_path / f"c.{kind}-{dead.pid}" / ".making").write_text("")
    shutil.copytree(tmp_path / "c", tmp_path / "c.old-2024")  # a user's backup: no marker
    os.remove(tmp_path / "c" / "manifest.json")  # and a folder of copies without its manifest
    said = []
    assert make(tmp_path, tmp_path / "c", say=said.append)["key"] == made["key"]
    for kind in ("old", "partial"):
        assert f"[corruptions] removed {tmp_path / f'c.{kind}-{dead.pid}'}, which a stopped process left" in said
    assert sorted(os.listdir(tmp_path)) == ["c", "c.old-2024", "imgs", "list.txt"]
    assert not (tmp_path / "c" / ".making").exists()
    shutil.rmtree(tmp_path / "c" / "fog" / "3")  # a whole severity gone: made anew
    make(tmp_path, tmp_path / "c", say=said.append)
    assert (tmp_path / "c" / "fog" / "3" / "0.png").exists()
    (tmp_path / "c" / "fog" / "1.txt").write_text("")  # a list emptied: made anew, not read as no images
    said.clear()
    make(tmp_path, tmp_path / "c", say=said.append)
    assert said[0] == f"[corruptions] the copies in {tmp_path / 'c'} lack fog/1.txt's lines (0 of 1): making them anew"


def test_a_write_error_is_one_line_with_nothing_kept_not_a_corruption_left_out(tmp_path, monkeypatch):
    write_list(tmp_path, 28, ["L"])
    save = Image.Image.save

    def full_disk(image, path, *args, **kwargs):
        if "/fog/" in str(path):
            raise OSError(28, "No space left on device")
        return save(image, path, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(ConfigError, match=r"deep/a/c: the copies cannot be written \(\[Errno 28\] No space left"):
        make(tmp_path, tmp_path / "deep" / "a" / "c")
    assert sorted(os.listdir(tmp_path)) == ["imgs", "list.txt"]  # not even the folders made for it


def test_a_path_under_a_file_or_a_symlink_loop_is_one_line(tmp_path):
    write_list(tmp_path, 28, ["L"])
    (tmp_path / "afile").write_text("x")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    for folder, refusal in ((tmp_path / "afile" / "c", "is under a file"), (tmp_path / "loop", "a loop")):
        with pytest.raises(ConfigError, match=refusal):
            make(tmp_path, folder)
    assert (tmp_path / "afile").read_text() == "x"


def test_a_process_waiting_for_a_folders_lock_says_so_and_another_folder_does_not_wait(tmp_path):
    said, release = [], threading.Event()

    def hold():
        with lock(str(tmp_path / "a"), exclusive=True, say=said.append):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    while not holder.is_alive():
        pass
    time.sleep(0.2)  # the holder takes the lock
    with lock(str(tmp_path / "b"), exclusive=True, say=said.append):
        assert said == []  # another folder: no wait
    with pytest.raises(Stopped):  # a signal while it waits: it stops waiting
        with lock(str(tmp_path / "a"), exclusive=False, say=said.append, stopped=lambda: "SIGINT", poll=0.01):
            pass

    def interrupted():
        raise KeyboardInterrupt  # Python's own SIGINT handler, where no stop is recorded

    with pytest.raises(Stopped, match="SIGINT"):
        with lock(str(tmp_path / "a"), exclusive=False, say=said.append, stopped=interrupted, poll=0.01):
            pass
    threading.Timer(0.3, release.set).start()
    with lock(str(tmp_path / "a"), exclusive=False, say=said.append, poll=0.01):
        assert said == [f"waiting for another process making {tmp_path / 'a'}"] * 3 and release.is_set()
    holder.join()
