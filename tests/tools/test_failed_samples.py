"""A transform that fails on every image (PaddleClas's own `Cutout` at its default `fill_value`) under
PaddleClas's Engine: PaddleClas's dataset retries random images without end. The tools end the run with one
line naming the split, the last image and its error, in the reader thread (no worker: Paddle's loader alone
waits for ever) and in a worker process, and nothing is trained or written."""

import os
import re

import pytest
import yaml

from paddleclas_rdrop.tools.failed_samples import RETRIES

from engine_runs import NEEDS_TREE, PROJECT, TINY, overrides, run_tool

needs_tree = pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)


@needs_tree
@pytest.mark.parametrize(
    "split, workers",
    [("Train", 0), ("Train", 1), ("Eval", 2)],  # Eval: 10 images, so a worker that is never fed
)
def test_a_transform_that_fails_on_every_image_ends_the_run_in_one_line(split, workers, workdir):
    with open(os.path.join(PROJECT, "configs", "rdrop_res2net.yaml")) as f:
        config = yaml.safe_load(f)
    config["DataLoader"][split]["dataset"]["transform_ops"].append({"Cutout": {"n_holes": 1, "length": 4}})
    name = f"cutout_{split}_{workers}"
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    extra = overrides(workdir, name) + TINY + [f"DataLoader.{split}.loader.num_workers={workers}"]
    result = run_tool("train.py", str(path), extra, cwd=workdir, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(lines) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert lines[0].startswith(f"error: DataLoader.{split}: {RETRIES} images in a row failed to load or transform")
    tried = re.findall(r"Exception occured when parse line: (\S+) with msg", result.stdout)
    named = re.search(r"\(the last, (\S+): AttributeError: 'Cutout' object has no attribute 'fill_value'\)", lines[0])
    assert named and named.group(1) in tried, lines  # an image PaddleClas's dataset tried and logged
    assert lines[0].endswith(f"fix DataLoader.{split}.dataset.transform_ops or the images"), lines
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    path.unlink()


@needs_tree
def test_a_transform_setting_that_fails_with_a_message_of_several_lines_ends_the_run_in_one_line(workdir):
    """OpenCV's errors hold their cause on a later line of the message: the line holds it too."""
    size = "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=abc"
    extra = overrides(workdir, "bad_size") + TINY + [size, "DataLoader.Train.loader.num_workers=0"]
    result = run_tool("train.py", "rdrop_se_resnet.yaml", extra, cwd=workdir, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(lines) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Can't parse 'dsize'" in lines[0] and lines[0].endswith(
        "fix DataLoader.Train.dataset.transform_ops or the images"
    )


@needs_tree
def test_a_list_with_most_images_broken_trains_as_under_paddleclas_own_retries(workdir):
    """3 of 4 images fail to decode: PaddleClas's dataset trains on the others, which the bound leaves be."""
    digits = workdir / "digits"
    lines = (digits / "train_list.txt").read_text().splitlines()
    for line in lines[: 3 * len(lines) // 4]:
        image = digits / line.split()[0]
        image.with_name(f"cut_{image.name}").write_bytes(image.read_bytes()[:60])
    cut = [f"{os.path.dirname(line.split()[0])}/cut_{os.path.basename(line.split()[0])} {line.split()[1]}"
           for line in lines[: 3 * len(lines) // 4]] + lines[3 * len(lines) // 4 :]  # fmt: skip
    cut_list = digits / "train_list_most_cut.txt"
    cut_list.write_text("\n".join(cut) + "\n")
    extra = overrides(workdir, "most_cut", epochs=3) + TINY + [f"DataLoader.Train.dataset.cls_label_path={cut_list}"]
    result = run_tool("train.py", "rdrop_res2net.yaml", extra, cwd=workdir)
    assert "Exception occured when parse line" in result.stdout
    assert not [line for line in result.stderr.splitlines() if line.startswith("error:")]


@needs_tree
def test_a_strict_dataset_fails_at_its_first_image_that_does_not_load(workdir, monkeypatch):
    """A corrupted copy is read as itself or not at all: PaddleClas's dataset would read a random other one."""
    import logging

    import paddle

    from paddleclas_rdrop.adapter.registry import register
    from paddleclas_rdrop.tools.failed_samples import SamplesFailed, strict

    register()  # PaddleClas's tree on the path, as its Engine runs
    from ppcls.data import build_dataloader
    from ppcls.utils import logger

    ppcls_logger = logging.getLogger("ppcls")  # PaddleClas's dataset logs the failure: its logger, for this test
    monkeypatch.setattr(ppcls_logger, "handlers", list(ppcls_logger.handlers))
    monkeypatch.setattr(ppcls_logger, "level", ppcls_logger.level)
    monkeypatch.setattr(logger, "_logger", None)
    logger.init_logger(log_level=logging.ERROR)
    digits = workdir / "digits"
    lines = (digits / "val_list.txt").read_text().splitlines()[:2]
    broken = digits / lines[1].split()[0]
    (workdir / "strict_list.txt").write_text("\n".join(lines) + "\n")
    section = {
        "dataset": {
            "name": "ImageNetDataset", "image_root": str(digits), "cls_label_path": str(workdir / "strict_list.txt"),
            "transform_ops": [{"DecodeImage": {"to_rgb": True, "channel_first": False}}],
        },
        "sampler": {"name": "DistributedBatchSampler", "batch_size": 2, "drop_last": False, "shuffle": False},
        "loader": {"num_workers": 0, "use_shared_memory": False},
    }  # fmt: skip
    loader = build_dataloader({"Eval": section}, "Eval", paddle.CPUPlace())
    strict(loader.dataset, "Eval")
    loader.dataset[0]
    kept = broken.read_bytes()
    broken.write_bytes(kept[:60])  # truncated: PaddleClas's dataset would return image 0 in its place
    try:
        with pytest.raises(SamplesFailed, match=rf"DataLoader.Eval: {broken} failed to load or transform"):
            loader.dataset[1]
    finally:
        broken.write_bytes(kept)
