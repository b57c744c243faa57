"""The README's own-data run, from CSV to prediction, executed as written on 80 generated images of 4
shapes (`shapes.py`): the recipe with the overrides `csv_to_lists.py` writes learns them.

The threshold: val top-1 >= 60 % on the 20 val images, where chance is 25 %. A model at chance reaches
12 of 20 with probability 0.1 % (binomial, p = 0.25), so the test does not pass by luck; a recipe that
diverges or collapses to one class (25 %) fails it.
"""

import os
import re
import subprocess

from shapes import SHAPES, write_shapes

from engine_runs import PROJECT, step_losses, tool_environment

THRESHOLD = 0.60


def readme_commands():
    """The commands of the README block marked `own-data-run`, continuation lines joined."""
    text = open(os.path.join(PROJECT, "README.md")).read()
    block = re.search(r"<!-- own-data-run:.*?-->\s*```bash\n(.*?)```", text, re.S).group(1)
    return [command for command in block.replace("\\\n", " ").splitlines() if command.strip()]


def test_the_readme_own_data_run_learns_and_goes_from_csv_to_prediction(tmp_path):
    for name in ("tools", "configs"):
        os.symlink(os.path.join(PROJECT, name), tmp_path / name)
    write_shapes(str(tmp_path / "my_images"), per_class=20, size=32)
    commands = readme_commands()
    assert [c.split()[1] for c in commands] == [
        "tools/csv_to_lists.py",
        "tools/train.py",
        "tools/export_model.py",
        "tools/predict.py",
    ]
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=tool_environment(), capture_output=True, text=True, timeout=1200
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout + result.stderr)
    listed = (tmp_path / "my_lists" / "overrides.txt").read_text()
    assert "-o Arch.class_num=4" in listed and "-o DataLoader.Train.dataset.batch_transform_ops=None" in listed
    assert "-o Arch.class_num=4" in outputs[0]  # printed too
    train_log = outputs[1]
    assert step_losses(train_log, "RDropLoss")
    warmup = int(re.search(r"-o Optimizer.lr.warmup_epoch=(\d+)", listed).group(1))
    names = re.findall(r"\[Train\]\[Epoch (\d+)/\d+\]\[Iter: \d+/\d+\]lr\((\w+)\)", train_log)
    assert {name for epoch, name in names if int(epoch) > warmup} == {"CosineAnnealingDecay"}  # not LinearWarmup
    best = max(float(v) for v in re.findall(r"\[Eval\]\[Epoch \d+\]\[Avg\].*?top1: ([\d.]+)", train_log))
    assert best >= THRESHOLD, train_log[-4000:]
    run = tmp_path / "output" / "my_run"
    epochs = sorted(name for name in os.listdir(run) if name.startswith("epoch_") and name.endswith(".pdparams"))
    assert len(epochs) == 2  # Global.keep_checkpoint_max=2 from the overrides
    assert sorted(os.listdir(run / "inference")) == ["inference.json", "inference.pdiparams", "inference.yml"]
    predicted = re.fullmatch(r"(\S+): (.*); true label \d+ \((\w+)\)\n", outputs[3])
    assert predicted, outputs[3]  # one line: the image, its top classes with scores, its true label
    top = re.findall(r"\d+ \((\w+)\) [\d.]+ %", predicted.group(2))
    assert len(top) == 4 and set(top) == set(SHAPES) and predicted.group(3) in SHAPES
