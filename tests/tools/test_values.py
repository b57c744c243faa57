"""The one table of checked config values (tools/values.py): it covers what the engines read, every wrong
value of a key in it is one error naming the key, and the tools refuse the issue's cases on both engines
before anything is written."""

import copy
import glob
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.adapter.schema import KEYS, defaults, rule_for, unchecked
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.values import check_values, leave_out_off_values

from engine_runs import ENGINES, NEEDS_TREE, TINY, engine_param, overrides, refusals, run_tool

RECIPE = {
    "Global": {"epochs": 3, "device": "cpu", "image_shape": [3, 32, 32], "output_dir": "out", "seed": 0},
    "DataLoader": {"Train": {"sampler": {"batch_size": 16, "drop_last": False}, "loader": {"num_workers": 0}}},
    "Optimizer": {"name": "Momentum", "momentum": 0.9, "clip_norm": 1.0, "lr": {"learning_rate": 0.1}},
    "Arch": {"name": "ResNet18", "class_num": 10},
}


TABLE = {key.path: key.rule for key in KEYS if key.rule is not None}


def test_every_key_of_the_standalone_engines_tables_has_a_rule():
    for section in ("Global", "AMP"):
        for key in defaults(section):
            assert rule_for((section, key)) is not None or f"{section}.{key}" in unchecked(), f"{section}.{key}"


def test_every_global_key_paddleclas_engine_reads_has_a_rule_or_a_reason():
    root = ENGINES["paddleclas"]["PADDLECLAS_ROOT"]
    if not root:
        pytest.skip(NEEDS_TREE)
    pattern = re.compile(r"""(?:\[["']Global["']\]|\.Global)(?:\.get\(|\[|\.)["']?([a-z_]+)""")
    read = set()
    for path in glob.glob(os.path.join(root, "ppcls", "engine", "**", "*.py"), recursive=True):
        read |= set(pattern.findall(open(path, encoding="utf-8").read()))
    read.discard("get")
    assert len(read) > 25
    missing = sorted(key for key in read if rule_for(("Global", key)) is None and f"Global.{key}" not in unchecked())
    assert not missing


def str2num(text):
    """A `-o` value as PaddleClas's override parser reads it: evaluated, else the string."""
    try:
        return eval(text)
    except Exception:
        return text


def concrete(pattern):
    """A path of the recipe above that `pattern` of the table stands for (its first `*` as Train)."""
    parts = pattern.replace("**.", "").replace("*", "Train").split(".")
    return tuple(parts)


def bad_values(rule):
    """Values `rule` refuses: the wrong types, and the values just past its bounds."""
    values = [st.text(min_size=1, max_size=6).filter(lambda s: s not in rule.choices), st.just([1, 2]), st.just({})]
    if rule.kind in ("whole", "number"):
        values += [st.just(True), st.just(float("nan")), st.just(float("inf"))]
        if rule.low is not None:
            below = st.floats(max_value=rule.low, exclude_max=not rule.low_open, allow_nan=False)
            values.append(
                below.map(lambda v: int(v) if rule.kind == "whole" and v.is_integer() and v < rule.low else v)
            )
        if rule.kind == "whole":
            values.append(st.floats(0.1, 100).filter(lambda v: not v.is_integer()))
    if rule.kind == "flag":
        values += [st.just("true"), st.just(1), st.just(0)]
    return st.one_of(values).filter(lambda v: rule.problem(v) is not None)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TABLE)).flatmap(lambda key: st.tuples(st.just(key), bad_values(TABLE[key]))))
def test_a_wrong_value_of_any_key_is_one_error_naming_it(case):
    pattern, value = case
    path = concrete(pattern)
    config = copy.deepcopy(RECIPE)
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    with pytest.raises(ConfigError) as error:
        check_values(config)
    message = str(error.value)
    assert message.startswith(f"{'.'.join(path)} must be ") and "\n" not in message
    example = re.search(r": set -o \S+=(.*)$", message).group(1)
    node[path[-1]] = str2num(example)  # the example it offers passes, as PaddleClas's -o reads it
    check_values(config)


def _paths(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, path + (index,))
    else:
        yield path


@settings(max_examples=100, deadline=None)
@given(
    path=st.sampled_from(sorted(_paths({**RECIPE, "RDrop": {"alpha": 3.0}, "EMA": {"decay": 0.9}}), key=str)),
    value=st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
def test_a_number_that_is_not_finite_is_refused_at_any_key(path, value):
    config = copy.deepcopy({**RECIPE, "RDrop": {"alpha": 3.0}, "EMA": {"decay": 0.9}})
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value  # YAML's .nan / .inf, or -o key=1e999
    with pytest.raises(ConfigError, match=f"^{re.escape('.'.join(map(str, path)))} must be "):
        check_values(config)


def test_off_values_pass():
    config = {
        "Global": {"seed": False, "keep_checkpoint_max": None, "checkpoints": None},
        "Optimizer": {"clip_norm": None},
    }
    check_values(config)  # raises nothing


CASES = {
    "Global.epochs=two": "Global.epochs must be a whole number >= 1, got 'two': set -o Global.epochs=3",
    "Global.epochs=2.5": "Global.epochs must be a whole number >= 1, got 2.5",
    "DataLoader.Train.sampler.batch_size=16.5": "DataLoader.Train.sampler.batch_size must be a whole number >= 1",
    "Global.eval_interval=0": "Global.eval_interval must be a whole number >= 1, got 0",
    "Global.use_visualdl=true": "Global.use_visualdl must be True or False, got 'true' (PaddleClas's -o reads",
    "Optimizer.lr.learning_rate=-0.1": "Optimizer.lr.learning_rate must be a number > 0, got -0.1",
}


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_tools_refuse_wrong_values_before_anything_is_written(engine, workdir):
    cases = [overrides(workdir, f"values_{engine}") + TINY + [case] for case in CASES]
    outcomes = refusals("train", "rdrop_res2net.yaml", cases, cwd=workdir, env=ENGINES[engine])
    for outcome, words in zip(outcomes, CASES.values()):
        assert outcome.startswith(f"error: {words}"), (outcome, words)
    assert not (workdir / f"values_{engine}").exists()


def test_off_values_that_paddleclas_reads_as_set_are_left_out():
    config = {
        "Global": {"seed": False, "epochs": 2},
        "Optimizer": {"clip_norm": None, "momentum": 0.9},
        "DataLoader": {"Train": {"sampler": {"batch_size": 8}}},
    }
    assert sorted(leave_out_off_values(config)) == ["Global.seed", "Optimizer.clip_norm"]
    assert config == {
        "Global": {"epochs": 2},
        "Optimizer": {"momentum": 0.9},
        "DataLoader": {"Train": {"sampler": {"batch_size": 8}}},
    }
    seeded = {"Global": {"seed": 0}, "Optimizer": {"clip_norm": 1.0}}
    assert leave_out_off_values(seeded) == [] and seeded == {"Global": {"seed": 0}, "Optimizer": {"clip_norm": 1.0}}


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_run_with_clip_norm_none_trains_unclipped(engine, workdir):
    result = run_tool(
        "train.py",
        "rdrop_res2net.yaml",
        overrides(workdir, f"unclipped_{engine}") + TINY + ["Optimizer.clip_norm=None"],
        cwd=workdir,
        env=ENGINES[engine],
    )
    assert "Traceback" not in result.stderr and (workdir / f"unclipped_{engine}" / "latest.pdparams").exists()
