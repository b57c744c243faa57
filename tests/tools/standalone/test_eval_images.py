"""The standalone engine: a val image that does not decode stops the run only once the epoch trained is saved."""

import shutil

from engine_runs import ENGINES, TINY, overrides, run_tool

CONFIG = "rdrop_res2net.yaml"


def test_a_val_image_that_does_not_decode_stops_the_run_with_the_epoch_saved(workdir):
    root = workdir / "cut_val"
    shutil.copytree(workdir / "digits", root)
    first = open(root / "val_list.txt").readline().split()[0]
    data = (root / first).read_bytes()
    (root / first).write_bytes(data[:60])  # cut after the PNG header: the start-up check passes, the decode fails
    keys = overrides(workdir, "cut_val_run", epochs=2, every_epoch=True) + TINY
    keys += [
        f"DataLoader.Eval.dataset.image_root={root}",
        f"DataLoader.Eval.dataset.cls_label_path={root}/val_list.txt",
    ]
    result = run_tool("train.py", CONFIG, keys, cwd=workdir, env=ENGINES["standalone"], check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr and len(errors) == 1, result.stderr[-3000:]
    latest = workdir / "cut_val_run" / "latest"
    for prefix in ("latest", "epoch_1"):
        for suffix in (".pdparams", ".pdopt", ".pdstates"):
            assert (workdir / "cut_val_run" / f"{prefix}{suffix}").exists(), prefix + suffix
    assert f"val_list.txt:1: image {root}/{first} cannot be read" in errors[0], errors
    assert f"epoch 1 was trained and saved in {latest}" in errors[0] and f"-o Global.checkpoints={latest}" in errors[0]
    (root / first).write_bytes(data)  # the image fixed, the run resumes from the epoch kept
    resumed = run_tool(
        "train.py", CONFIG, keys + [f"Global.checkpoints={latest}"], cwd=workdir, env=ENGINES["standalone"]
    )
    assert "[Train][Epoch 2/2]" in resumed.stdout + resumed.stderr and "[Train][Epoch 1/2]" not in resumed.stdout
