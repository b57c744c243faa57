"""The README's quick start, `bash tools/demo.sh`, as on a fresh machine (no PaddleClas tree), shortened
to one epoch on the val list's images (`SHORTER`) and into another folder (`-o Global.output_dir`, which
every step follows): it ends with its summary, and its log says nothing a user cannot act on."""

import os
import re
import subprocess

from engine_runs import PROJECT, tool_environment

# What a successful run must not print (each a line the tools once printed with nothing wrong):
NOISE = (
    "Paddle static graph(PIR) not support input out tensor",  # Paddle's C++ warning at export
    ".partial-",  # a temporary folder named as where the export or a checkpoint is
    "[Eval][Epoch 0]",  # eval.py evaluates no epoch
    "workers exit unexpectedly",  # the data loader's workers ending with the process
    "No ccache found",
    "A new field (",
    "PLEASE USE OMP_NUM_THREADS WISELY",
    "Traceback",
)


# One epoch over the 360 images of the val list instead of the 1437 of the train list: the demo's steps all run.
SHORTER = ["-o", "Global.epochs=1", "-o", "DataLoader.Train.dataset.cls_label_path=./dataset/digits/val_list.txt"]


def test_the_demo_ends_with_its_summary_and_prints_no_noise(tmp_path):
    for name in ("tools", "configs"):
        os.symlink(os.path.join(PROJECT, name), tmp_path / name)
    result = subprocess.run(
        ["bash", "tools/demo.sh", *SHORTER, "-o", "Global.output_dir=output/elsewhere/"],
        cwd=tmp_path,
        env=tool_environment({"PADDLECLAS_ROOT": ""}),
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    trained = log.split("== paddleclas-rdrop: the run ended ==", 1)[1].strip().splitlines()[:4]
    assert [line.split(":")[0] for line in trained] == ["best model", "run time", "evaluate", "export"]
    assert (
        f"python tools/eval.py -c configs/demo_digits.yaml {' '.join(SHORTER)} -o Global.output_dir=output/elsewhere/ "
        "-o Global.pretrained_model=output/elsewhere/best_model\n" in log
    )
    summary = log.split("== paddleclas-rdrop: the demo ended ==", 1)[1].strip().splitlines()
    assert [line.split(":")[0] for line in summary] == ["best model", "export", "prediction"]
    assert summary[0] == trained[0]  # the demo's summary starts with the training run's
    assert summary[1] == "export:      output/elsewhere/inference/ (inference.json, inference.pdiparams, inference.yml)"
    assert not (tmp_path / "output" / "demo").exists()  # nothing read from or written into the config's folder
    for noise in NOISE:
        assert noise not in log, noise
    assert log.count("ppcls INFO: Global : ") == 1  # the config, printed by train.py only
    engine_lines = [line for line in log.splitlines() if line.startswith("paddleclas-rdrop: ") and "engine" in line]
    assert len(engine_lines) == 3 and all(len(line) <= 160 for line in engine_lines)  # train, eval, export
    # warm-up is half an epoch: the steps after it name the schedule that runs then
    steps = re.findall(r"\[Iter: (\d+)/(\d+)\]lr\((\w+)\)", log)
    assert steps and all(name == "LinearWarmup" for step, total, name in steps if int(step) < int(total) // 2)
    assert {name for step, total, name in steps if int(step) > int(total) // 2 + 1} == {"CosineAnnealingDecay"}
