"""`tools/paddlex_config.py`: a PaddleClas YAML as PaddleX keeps it (under `paddlex/repo_apis/PaddleClas_api/
configs/` of a PaddleX source folder, written here) gets R-Drop, checked on the real model, and the
PaddleX train command; a mistake is one line."""

import os
import sys

import pytest
import yaml

from paddleclas_rdrop.adapter.settings import RDropSettings, check_rdrop_contract
from paddleclas_rdrop.tools.paddlex import PADDLEX_CONFIGS

import forks
from engine_runs import PROJECT, tool_environment


def paddleclas_yaml(arch):
    """The sections of a PaddleClas ImageNet YAML that the helper reads, as PaddleX ships them."""
    return {
        "Global": {"device": "gpu", "epochs": 200, "output_dir": "./output/"},
        "Arch": {"name": arch, "class_num": 1000, "pretrained": True},
        "Loss": {"Train": [{"CELoss": {"weight": 1.0, "epsilon": 0.1}}], "Eval": [{"CELoss": {"weight": 1.0}}]},
    }


@pytest.fixture(scope="module")
def paddlex_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paddlex")
    configs = root / PADDLEX_CONFIGS
    configs.mkdir(parents=True)
    for model, arch in (
        ("PP-LCNet_x0_25", "PPLCNet_x0_25"),
        ("ResNet18_vd", "ResNet18_vd"),
        ("PP-HGNet_tiny", "PPHGNet_tiny"),
    ):
        (configs / f"{model}.yaml").write_text(yaml.safe_dump(paddleclas_yaml(arch)))
    return root


def helper(*args, cwd):
    script = os.path.join(PROJECT, "tools", "paddlex_config.py")
    return forks.run([sys.executable, script, *args], cwd=cwd, env=tool_environment(), timeout=600)


@pytest.mark.parametrize(
    "model, layers",
    [
        ("PP-LCNet_x0_25", {}),  # its own dropout before the classifier makes the passes differ
        ("ResNet18_vd", {"head_dropout": 0.1, "head_layer": "fc", "drop_path": 0.1, "drop_path_stages": [4]}),
        # PP-HGNet's own dropout_prob is built at 0; its only blocks with a shortcut are in stage 3
        ("PP-HGNet_tiny", {"head_dropout": 0.1, "head_layer": "fc", "drop_path": 0.1, "drop_path_stages": [3]}),
    ],
)
def test_the_helper_adds_checked_rdrop_sections_and_prints_the_paddlex_command(paddlex_root, tmp_path, model, layers):
    out = tmp_path / f"rdrop_{model}.yaml"
    result = helper("--model", model, "--paddlex-root", str(paddlex_root), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load(out.read_text())
    assert config["Global"]["train_mode"] == "rdrop"
    assert config["RDrop"] == {"passes": 2, "strategy": "auto", **layers}
    assert config["Loss"]["Train"][-1] == {"RDropLoss": {"weight": 3.0, "reduction": "batchmean"}}
    check_rdrop_contract(config)
    assert RDropSettings.from_config(config).rdrop
    assert (
        f"cd {paddlex_root} && python main.py -c paddlex/configs/modules/image_classification/{model}.yaml "
        f"-o Global.mode=train" in result.stdout
    )
    assert f"-o Train.basic_config_path={out}" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "PP-LCNet_x0_26"], "--model PP-LCNet_x0_26: PaddleX has no such PaddleClas config (did you mean"),
        (["--model", "ResNet18_vd", "--head-layer", "classifier"], "has no sublayer 'classifier'"),
        (["--model", "ResNet18_vd", "--alpha", "-1"], "RDropLoss.weight is alpha"),
    ],
)
def test_a_mistake_is_one_line_and_writes_nothing(paddlex_root, tmp_path, args, message):
    out = tmp_path / "out.yaml"
    result = helper(*args, "--paddlex-root", str(paddlex_root), "--out", str(out), cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert not out.exists()


def test_a_key_given_twice_in_the_yaml_is_one_line(tmp_path):
    path = tmp_path / "given_twice.yaml"
    path.write_text("Global:\n  epochs: 200\n  device: gpu\n  epochs: 1\nArch:\n  name: ResNet18_vd\n")
    out = tmp_path / "out.yaml"
    result = helper("--yaml", str(path), "--out", str(out), cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert errors == [
        f"error: {path}:4: Global.epochs is given twice, at lines 2 and 4: keep one (PyYAML would take the last)"
    ], result.stderr[-2000:]
    assert not out.exists()


@pytest.mark.parametrize("alpha", ["nan", "inf"])
def test_an_alpha_that_is_not_finite_is_one_line(tmp_path, alpha):
    out = tmp_path / "out.yaml"
    config = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")
    result = helper("--yaml", config, "--out", str(out), "--alpha", alpha, cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(errors) == 1 and "RDropLoss.weight is alpha" in errors[0] and "finite" in errors[0], result.stderr
    assert not out.exists()


def test_an_out_in_missing_folders_is_written_and_an_impossible_one_is_one_line(tmp_path):
    out = tmp_path / "new" / "folders" / "out.yaml"
    made = helper("--yaml", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml"), "--out", str(out), cwd=tmp_path)
    assert made.returncode == 0 and yaml.safe_load(out.read_text())["RDrop"], made.stderr[-2000:]
    (tmp_path / "taken").write_text("")
    blocked = tmp_path / "taken" / "out.yaml"
    result = helper(
        "--yaml", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml"), "--out", str(blocked), cwd=tmp_path
    )
    assert result.returncode == 1 and result.stderr == (
        f"error: --out {blocked}: {tmp_path / 'taken'} is a file, not a folder (Not a directory): give a path "
        "elsewhere, or move that file away\n"
    ), result.stderr[-2000:]
