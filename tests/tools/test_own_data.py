"""The README's own-data run, from CSV to prediction, executed as written."""

import os
import re
import subprocess

from paddleclas_rdrop.tools.data.demo import DIGIT_NAMES

from engine_runs import PROJECT, step_losses, tool_environment


def readme_commands():
    """The commands of the README block marked `own-data-run`, continuation lines joined."""
    text = open(os.path.join(PROJECT, "README.md")).read()
    block = re.search(r"<!-- own-data-run:.*?-->\s*```bash\n(.*?)```", text, re.S).group(1)
    return [command for command in block.replace("\\\n", " ").splitlines() if command.strip()]


def test_the_readme_own_data_run_goes_from_csv_to_prediction(tmp_path):
    for name in ("tools", "configs"):
        os.symlink(os.path.join(PROJECT, name), tmp_path / name)
    commands = readme_commands()
    assert [c.split()[1] for c in commands] == [
        "tools/prepare_digits.py",
        "tools/csv_to_lists.py",
        "tools/train.py",
        "tools/export_model.py",
        "tools/predict.py",
    ]
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=tool_environment(), capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout + result.stderr)
    listed = (tmp_path / "my_lists" / "overrides.txt").read_text()
    assert (
        "-o Arch.class_num=10" in listed and "-o Infer.PostProcess.class_id_map_file=my_lists/label_list.txt" in listed
    )
    assert "-o Arch.class_num=10" in outputs[1]  # printed too
    assert step_losses(outputs[2], "RDropLoss")
    assert sorted(os.listdir(tmp_path / "output" / "my_run" / "inference")) == [
        "inference.json",
        "inference.pdiparams",
        "inference.yml",
    ]
    predicted = re.fullmatch(r"(\S+): (.*); true label \d+ \((\w+)\)\n", outputs[4])
    assert predicted, outputs[4]  # one line: the image, its top 5 with scores, its true label
    top = re.findall(r"\d+ \((\w+)\) [\d.]+ %", predicted.group(2))
    assert len(top) == 5 and all(name in DIGIT_NAMES for name in top + [predicted.group(3)])
