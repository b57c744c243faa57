"""A transform that fails on every image (PaddleClas's own `Cutout` at its default `fill_value`) under
PaddleClas's Engine: PaddleClas's dataset retries random images without end. The tools end the run with one
line naming the split, the last image and its error, in the reader thread (no worker: Paddle's loader alone
waits for ever) and in a worker process, and nothing is trained or written."""

import os

import pytest
import yaml

from engine_runs import NEEDS_TREE, PROJECT, TINY, overrides, run_tool

needs_tree = pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)


@needs_tree
@pytest.mark.parametrize("workers", [0, 1])
def test_a_transform_that_fails_on_every_image_ends_the_run_in_one_line(workers, workdir):
    with open(os.path.join(PROJECT, "configs", "rdrop_res2net.yaml")) as f:
        config = yaml.safe_load(f)
    config["DataLoader"]["Train"]["dataset"]["transform_ops"].append({"Cutout": {"n_holes": 1, "length": 4}})
    path = workdir / f"cutout_{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    name = f"cutout_{workers}"
    extra = overrides(workdir, name) + TINY + [f"DataLoader.Train.loader.num_workers={workers}"]
    result = run_tool("train.py", str(path), extra, cwd=workdir, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(lines) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert lines[0].startswith("error: DataLoader.Train: 16 images in a row failed to load or transform"), lines
    assert "AttributeError: 'Cutout' object has no attribute 'fill_value'" in lines[0], lines
    assert lines[0].endswith("fix DataLoader.Train.dataset.transform_ops or the images"), lines
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert not (workdir / name / "latest.pdparams").exists()
    path.unlink()
