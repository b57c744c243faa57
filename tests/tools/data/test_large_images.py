"""Very large images, one policy at train, eval and predict on both engines (`tools/data/lists.py`): decoded up to
the 2**30 pixels cv2 decodes, refused above it in one line naming the list file and the line. The images are blank
PNGs written row by row (a few KB on disk, one row in memory), removed after the tests."""

import os
import struct
import zlib

import pytest

from engine_runs import ENGINES, TINY, engine_param, overrides, run_tool

CONFIG = "rdrop_res2net.yaml"
OVER_PIL = 13400  # 179.6 M pixels: over the 178.9 M at which PIL raised DecompressionBombError
OVER_CV2 = 32769  # over the 2**30 pixels cv2 decodes


def write_blank_png(path, side):
    """A black 1-bit PNG of `side` x `side` pixels, compressed a block of rows at a time."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows, compressor, parts = b"\x00" * (1 + (side + 7) // 8) * 256, zlib.compressobj(9), []
    for start in range(0, side, 256):
        parts.append(compressor.compress(rows[: len(rows) // 256 * min(256, side - start)]))
    parts.append(compressor.flush())
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        handle.write(chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))
    return str(path)


@pytest.fixture(scope="module")
def large(workdir):
    """{"over_pil", "over_cv2"}: the two images in the digits' images folder; removed after the module."""
    images = workdir / "digits" / "images"
    paths = {"over_pil": write_blank_png(images / "over_pil.png", OVER_PIL)}
    paths["over_cv2"] = write_blank_png(images / "over_cv2.png", OVER_CV2)
    yield paths
    for path in paths.values():
        os.remove(path)


def with_image(workdir, name, image):
    """The digits' train and val lists with `image` (a path in digits/images) as their first line, in
    `workdir/name/`."""
    folder = workdir / name
    folder.mkdir()
    for split in ("train_list.txt", "val_list.txt"):
        lines = (workdir / "digits" / split).read_text()
        (folder / split).write_text(f"images/{os.path.basename(image)} 0\n{lines}")
    return folder


def test_the_header_checks_take_an_image_over_pils_limit_and_name_one_over_cv2s(large, tmp_path):
    from paddleclas_rdrop.core.errors import DataError
    from paddleclas_rdrop.tools.data.lists import read_list_file

    root = os.path.dirname(large["over_pil"])
    (tmp_path / "pil.txt").write_text("over_pil.png 0\n")
    assert list(read_list_file(root, str(tmp_path / "pil.txt"))[0]) == [large["over_pil"]]
    (tmp_path / "cv2.txt").write_text("over_pil.png 0\nover_cv2.png 1\n")
    with pytest.raises(DataError, match=r"cv2.txt:2: image .*over_cv2.png has more than the 1073741824 pixels"):
        read_list_file(root, str(tmp_path / "cv2.txt"))
    from paddleclas_rdrop.tools.data.csv_lists import read_rows

    (tmp_path / "large.csv").write_text("image,label\nover_pil.png,0\n")
    assert read_rows(str(tmp_path / "large.csv"), root) == [("over_pil.png", "0", 2)]  # csv_to_lists takes it


def run_keys(workdir, lists, output):
    data = workdir / "digits"
    return (
        overrides(workdir, output)
        + TINY
        + [
            f"DataLoader.Train.dataset.cls_label_path={lists / 'train_list.txt'}",
            f"DataLoader.Eval.dataset.cls_label_path={lists / 'val_list.txt'}",
            f"Infer.infer_imgs={data / 'images' / 'over_pil.png'}",
        ]
    )


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_image_over_pils_limit_is_trained_evaluated_and_predicted(large, workdir, engine):
    lists = with_image(workdir, f"pil_lists_{engine}", large["over_pil"])
    keys = run_keys(workdir, lists, f"pil_{engine}")
    result = run_tool("train.py", CONFIG, keys, cwd=workdir, env=ENGINES[engine], check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in out and "DecompressionBomb" not in out, out[-3000:]
    assert "[Eval][Epoch 1][Avg]" in out
    keys += [f"Global.pretrained_model={workdir / f'pil_{engine}' / 'latest'}"]
    tools = ["infer.py"] + (["export_model.py", "predict.py"] if engine == "standalone" else [])
    for tool in tools:
        result = run_tool(tool, CONFIG, keys, cwd=workdir, env=ENGINES[engine], check=False)
        out = result.stdout + result.stderr
        assert result.returncode == 0 and (tool == "export_model.py" or "over_pil.png" in result.stdout), out[-3000:]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_an_image_over_cv2s_limit_is_one_line_before_anything_is_written(large, workdir, engine):
    lists = with_image(workdir, f"cv2_lists_{engine}", large["over_cv2"])
    keys = run_keys(workdir, lists, f"cv2_{engine}")
    result = run_tool("train.py", CONFIG, keys, cwd=workdir, env=ENGINES[engine], check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr and len(errors) == 1, errors
    assert f"{lists / 'train_list.txt'}:1: image" in errors[0] and "downscale it" in errors[0], errors
    assert not (workdir / f"cv2_{engine}").exists()
