"""The corrupted copies of an evaluation list (`paddleclas_rdrop.tools.data.corruptions`): ImageNet-C's
families as imagecorruptions names them; copies of 28 px grayscale and RGB images in the source's size, mode,
list format and labels; made once and reused, made anew when an image changes; a corruption that fails at the
images' resolution left out in one line; a folder of other files refused."""

import os
import pathlib
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from paddleclas_rdrop.core.errors import ConfigError, DataError
from paddleclas_rdrop.tools.data.corruptions import (
    CORRUPTIONS,
    FAMILIES,
    SEVERITIES,
    decode_backend,
    make_copies,
    read_image,
)
from paddleclas_rdrop.tools.data.lists import decode


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


def test_the_families_are_imagecorruptions_own():
    from imagecorruptions import get_corruption_names

    assert {family: list(names) for family, names in FAMILIES.items()} == {
        family: get_corruption_names(family) for family in FAMILIES
    }
    assert list(CORRUPTIONS) == get_corruption_names("common")


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
    with pytest.raises(ConfigError, match="the folder holds other files; give a new or empty folder"):
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


def test_the_backend_is_eval_decodeimages_and_an_image_that_does_not_decode_is_one_error(tmp_path):
    ops = [{"DecodeImage": {"to_rgb": True, "backend": "PIL"}}, {"ResizeImage": {"size": 32}}]
    assert decode_backend({"DataLoader": {"Eval": {"dataset": {"transform_ops": ops}}}}) == "pil"
    assert decode_backend({"DataLoader": {"Eval": {"dataset": {"transform_ops": ops[1:]}}}}) == "cv2"
    assert decode_backend({}) == "cv2"
    write_list(tmp_path, 28, ["L", "L"])
    (tmp_path / "imgs" / "1.png").write_text("not an image")
    with pytest.raises(DataError, match=r"imgs/1.png: the image does not decode"):
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
