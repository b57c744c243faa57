"""The README's own-data run, from CSV to prediction, on 80 generated images of 4 shapes (`shapes.py`):
every line runs on both engines as written plus `-o Arch.name=SE_ResNet18_vd` (`SMALLER`, the recipe's smaller
sibling) on the lines that build the model and `-o Global.epochs` on train.py's: the suite's time (the
recipe's SE_ResNet50_vd trains on both engines in tests/tools/standalone/test_engine.py and
tests/adapter/test_ppcls_engine.py). PaddleClas's Engine trains 2
epochs, which show each step works; the standalone engine (a pip-only user's) learns the shapes with the
overrides `csv_to_lists.py` writes, in 12 of their 50 epochs (SE_ResNet50_vd's 50 take 4 minutes on one core).
The lines as written learn the same shapes in docs/benchmarks.md ("Own data": 100 % val top-1 from epoch 29
of 50).

The threshold: val top-1 >= 60 % on the 20 val images, where chance is 25 %. A model at chance reaches
12 of 20 with probability 0.1 % (binomial, p = 0.25), so the test does not pass by luck; a recipe that
diverges or collapses to one class (25 %) fails it. The run is not seeded (as the README's lines): three runs
of its training on one thread (`-o Arch.name=SE_ResNet18_vd -o Global.epochs=20`) were at 60-70 % val top-1
by epoch 3-4, and at 95-100 % from epoch 8 to the end.
"""

import os
import re

import pytest
from shapes import SHAPES, write_shapes

from engine_runs import ENGINES, PROJECT, engine_param, run_line, step_losses, tool_environment

THRESHOLD = 0.60
SMALLER = ["Arch.name=SE_ResNet18_vd"]  # on the lines that build the model: train, eval, export, predict
EPOCHS = 12  # of the overrides' 50: 48 steps of 4 an epoch, and the epoch checkpoint 10 (save_interval 10)


def readme_commands():
    """The commands of the README block marked `own-data-run`, continuation lines joined."""
    text = open(os.path.join(PROJECT, "README.md")).read()
    block = re.search(r"<!-- own-data-run:.*?-->\s*```bash\n(.*?)```", text, re.S).group(1)
    return [command for command in block.replace("\\\n", " ").splitlines() if command.strip()]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_readme_own_data_run_learns_and_goes_from_csv_to_prediction(engine, tmp_path):
    whole = engine == "standalone"  # the run that learns; the other engine's 2 epochs show each step works
    for name in ("tools", "configs"):
        os.symlink(os.path.join(PROJECT, name), tmp_path / name)
    write_shapes(str(tmp_path / "my_images"), per_class=20, size=32)
    write_shapes(str(tmp_path / "my_test"), per_class=5, size=32, seed=1)  # a held-out test set
    commands = readme_commands()
    assert [c.split()[1] for c in commands] == [
        "tools/csv_to_lists.py",
        "tools/train.py",
        "tools/csv_to_lists.py",
        "tools/eval.py",
        "tools/export_model.py",
        "tools/predict.py",
    ]
    shortened = f" -o Global.epochs={EPOCHS if whole else 2}"
    for index in (1, 3, 4, 5):
        commands[index] += "".join(f" -o {key}" for key in SMALLER)
    commands[1] += shortened
    outputs = []
    for command in commands:
        result = run_line(command, tmp_path, tool_environment(ENGINES[engine]))
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout + result.stderr)
    listed = (tmp_path / "my_lists" / "overrides.txt").read_text()
    assert "-o Arch.class_num=4" in listed and "-o DataLoader.Train.dataset.batch_transform_ops=None" in listed
    assert "-o Arch.class_num=4" in outputs[0]  # printed too
    assert "warning" not in outputs[0] + outputs[2]  # 20 images of each shape: balanced
    train_log = outputs[1]
    ended = train_log.split("== paddleclas-rdrop: the run ended ==", 1)[1]  # the run's summary, at its end
    scores = r"\(val top-1 [\d.]+ %, balanced accuracy [\d.]+ % at epoch \d+\)"
    assert re.search(r"best model:  output/my_run/best_model\.pdparams " + scores, ended)
    typed = "$(cat my_lists/overrides.txt) -o Global.device=cpu -o Global.output_dir=output/my_run"  # as typed
    typed += "".join(f" -o {key}" for key in SMALLER) + shortened
    weights = "-o Global.pretrained_model=output/my_run/best_model"
    assert f"evaluate:    python tools/eval.py -c configs/rdrop_se_resnet.yaml {typed} {weights}\n" in ended
    assert "run time:    " in ended
    assert "Time: tools/train.py prints the run's expected run time" in outputs[0]
    assert "[Train][Time] expected run time " in train_log and "[Train][Time] after epoch 1: " in train_log
    assert step_losses(train_log, "RDropLoss")
    assert "paddleclas-rdrop: " + ("standalone engine" if whole else "PaddleClas's Engine") in train_log
    if whole:
        check_learning(tmp_path, listed, train_log, outputs[3])
    run = tmp_path / "output" / "my_run"
    assert sorted(os.listdir(run / "inference")) == ["inference.json", "inference.pdiparams", "inference.yml"]
    test_list = (tmp_path / "my_test_lists" / "test_list.txt").read_text().splitlines()
    labels = dict(line.split() for line in (tmp_path / "my_lists" / "label_list.txt").read_text().splitlines())
    assert len(test_list) == 20 and {labels[line.split()[1]] for line in test_list} == set(SHAPES)
    assert re.search(r"\[Eval\]\[Avg\].*?top1: ([\d.]+)", outputs[3])  # the held-out test set, scored
    assert "paddleclas-rdrop: evaluating my_test_lists/test_list.txt: 20 images" in outputs[3]  # named, counted
    for printed in outputs[3], outputs[5]:  # eval.py's and predict.py's per-class results, a row per shape
        start = printed.index("per-class results on my_test_lists/test_list.txt (20 images")
        rows = [line.split() for line in printed[start:].splitlines()[2:6]]
        assert [row[1] for row in rows] == [labels[str(c)] for c in range(4)] and {row[-1] for row in rows} == {"5"}
        assert "balanced accuracy: " in printed[start:] and "confusion matrix" in printed[start:]
    lines = outputs[5].splitlines()
    predicted = [re.fullmatch(r"(\S+): (.*); true label \d+ \((\w+)\)", line) for line in lines[:20]]
    assert all(predicted), outputs[5]  # a line per image: its top classes with scores, its true label
    top = re.findall(r"\d+ \((\w+)\) [\d.]+ %", predicted[0].group(2))
    assert len(top) == 4 and set(top) == set(SHAPES) and predicted[0].group(3) in SHAPES
    rows = (run / "test_predictions.csv").read_text().splitlines()
    assert rows[0] == "image,class_id,class_name,score,true_class_id,true_class_name" and len(rows) == 21
    assert [row.split(",")[5] for row in rows[1:]] == [match.group(3) for match in predicted]  # the true labels
    right = sum(row.split(",")[2] == match.group(3) for row, match in zip(rows[1:], predicted))
    assert f"top-1 accuracy: {100 * right / 20:.1f} % ({right} of 20 images with a true label)" in lines


def check_learning(tmp_path, listed, train_log, eval_log):
    """The learned run: the schedule after warm-up, val and test top-1 over the threshold, the epoch checkpoints."""
    warmup = int(re.search(r"-o Optimizer.lr.warmup_epoch=(\d+)", listed).group(1))
    names = re.findall(r"\[Train\]\[Epoch (\d+)/\d+\]\[Iter: \d+/\d+\]lr\((\w+)\)", train_log)
    assert {name for epoch, name in names if int(epoch) > warmup} == {"CosineAnnealingDecay"}  # not LinearWarmup
    best = max(float(v) for v in re.findall(r"\[Eval\]\[Epoch \d+\]\[Avg\].*?top1: ([\d.]+)", train_log))
    assert best >= THRESHOLD, train_log[-4000:]
    run = tmp_path / "output" / "my_run"
    epochs = sorted(name for name in os.listdir(run) if name.startswith("epoch_") and name.endswith(".pdparams"))
    assert epochs == [f"epoch_{e}.pdparams" for e in range(10, EPOCHS + 1, 10)]  # save_interval=10 (overrides)
    test_top1 = float(re.search(r"\[Eval\]\[Avg\].*?top1: ([\d.]+)", eval_log).group(1))
    assert test_top1 >= THRESHOLD, eval_log[-3000:]  # the held-out test set, scored by eval.py
