"""The config schema is the one table of keys: a row added to it alone is checked on both engines, and what
the typo check, the value check and the standalone engine know of a key is that row."""

import os
import subprocess
import sys

import pytest

from paddleclas_rdrop.adapter import schema
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.standalone.keys import take

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, tool_environment

# A training run in which `Global.tile_px` (a key no engine knows) is, with `--row`, one row of the schema
RUN_WITH_A_NEW_ROW = """
import sys
from paddleclas_rdrop.adapter import schema
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.core.errors import RDropError
argv = sys.argv[1:]
if argv[0] == "--row":
    argv = argv[1:]
    schema.KEYS.append(schema.Key("Global.tile_px", schema.whole(8, "64"), 64, optional=True))
from paddleclas_rdrop.tools.cli import run
try:
    run("train", argv)
except RDropError as error:
    print("error:", error)
    sys.exit(1)
print("trained")
"""


def run_with(engine, workdir, name, extra, row=True):
    args = ["--row"] if row else []
    args += ["-c", os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")]
    for override in overrides(workdir, name) + TINY + extra:
        args += ["-o", override]
    return subprocess.run(
        [sys.executable, "-c", RUN_WITH_A_NEW_ROW, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=tool_environment(ENGINES[engine]),
        timeout=600,
    )


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_row_added_to_the_schema_alone_is_checked_on_both_engines(engine, workdir):
    result = run_with(engine, workdir, f"row_{engine}", ["Global.tile_px=4"])
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "error: Global.tile_px must be a whole number >= 8, got 4: set -o Global.tile_px=64" in result.stdout
    assert not os.path.exists(workdir / f"row_{engine}")  # refused before anything was written


def test_the_standalone_engine_takes_a_key_from_its_schema_row_alone(workdir):
    refused = run_with("standalone", workdir, "no_row", ["Global.tile_px=16"], row=False)
    assert refused.returncode == 1 and "Global.tile_px is not a key the standalone engine knows" in refused.stdout, (
        refused.stdout[-2000:] + refused.stderr[-2000:]
    )
    taken = run_with("standalone", workdir, "with_row", ["Global.tile_px=16"])
    assert taken.returncode == 0 and "trained" in taken.stdout, taken.stdout[-2000:] + taken.stderr[-2000:]


def test_the_standalone_engine_fills_in_the_schemas_defaults():
    filled = take({"epochs": 3}, "Global")
    assert filled["epochs"] == 3 and filled["output_dir"] == "./output/" and filled["seed"] is None
    assert set(schema.defaults("AMP")) == {
        "use_amp",
        "use_fp16_test",
        "scale_loss",
        "use_dynamic_loss_scaling",
        "use_promote",
        "level",
    }
    assert schema.defaults("EMA") == {"decay": 0.9999}


def test_each_key_has_one_row_and_every_unchecked_key_says_why():
    paths = [key.path for key in schema.KEYS]
    assert len(paths) == len(set(paths))
    assert all(key.engine in schema.ENGINES for key in schema.KEYS)
    assert all(why for why in schema.unchecked().values())


@pytest.mark.parametrize(
    "path, optional",
    [
        ("Global.seed", True),
        ("Optimizer.clip_norm", True),
        ("Optimizer.0.Momentum.lr.warmup_epoch", True),  # PaddleClas's list of optimizers
        ("DataLoader.Train.loader.num_workers", True),
        ("DataLoader.Train.sampler.batch_size", False),  # every recipe has it: a new one is a typo's place
        ("Optimizer.lr.learning_rate", False),
        ("Arch.class_num", False),
    ],
)
def test_the_typo_check_reads_which_keys_a_recipe_may_leave_out_from_the_schema(path, optional):
    *parents, leaf = path.split(".")
    assert schema.optional(parents, leaf) is optional


def test_each_run_gets_its_own_copy_of_a_default():
    first = schema.defaults("Global")
    first["image_shape"][0] = 1
    assert schema.defaults("Global")["image_shape"] == [3, 224, 224]


def test_the_rdrop_section_its_defaults_and_help_are_the_schemas_rows():
    from paddleclas_rdrop.adapter.settings import keys_help, parse_section

    assert parse_section({})["passes"] == 2 and parse_section({})["drop_path_stages"] == [1, 2, 3, 4]
    schema.KEYS.append(schema._rdrop("kl_temperature", 1.0, "a row added in a test"))
    try:
        assert parse_section({"kl_temperature": 2.0})["kl_temperature"] == 2.0
        assert "RDrop.kl_temperature: 1.0  a row added in a test" in keys_help()
    finally:
        schema.KEYS.pop()
    with pytest.raises(ConfigError, match=r"RDrop.kl_temperature is not an R-Drop setting"):
        parse_section({"kl_temperature": 2.0})


def test_the_folders_each_tool_writes_are_the_schemas_rows():
    assert schema.written("train") == ["output_dir"] and schema.written("eval") == ["output_dir"]
    assert schema.written("export") == ["output_dir", "save_inference_dir"]


def test_the_schema_imports_no_paddle_and_its_drop_path_stages_are_the_cores():
    code = (
        "import sys, paddleclas_rdrop.adapter.schema as s; "
        "print('paddle' in sys.modules, s.defaults('RDrop')['drop_path_stages'])"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from paddleclas_rdrop.core.drop_path import STAGES

    assert printed.split(" ", 1) == ["False", f"{list(STAGES)}\n"]


def test_a_baseline_twin_keeps_the_rdrop_rows_of_layers():
    from paddleclas_rdrop.tools.compare.arms import baseline_twin

    config = {
        "Global": {"train_mode": "rdrop"},
        "Loss": {"Train": [{"CELoss": {"weight": 1.0}}, {"RDropLoss": {"weight": 1.0}}]},
        "RDrop": {"head_dropout": 0.1, "alpha_warmup_epochs": 2, "noise": 0.2},
    }
    assert baseline_twin(config, "cfg.yaml")["RDrop"] == {"head_dropout": 0.1}
    schema.KEYS.append(schema._rdrop("noise", 0.0, "a row added in a test", layer=True))
    try:
        assert baseline_twin(config, "cfg.yaml")["RDrop"] == {"head_dropout": 0.1, "noise": 0.2}
    finally:
        schema.KEYS.pop()
