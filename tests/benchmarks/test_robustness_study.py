"""benchmarks/robustness_study.py's plan: the seeds a process runs (`--seeds`), each seed's arms in the declared
order, and a seed outside the declared ones refused naming it."""

import argparse
import types

import pytest
import robustness_study as study


def plan(regimes, only_seeds=None):
    args = types.SimpleNamespace(seeds=dict(study.SEEDS), regimes=regimes, arms=list(study.ARMS), only_seeds=only_seeds)
    return study.plan(args)


def test_a_process_on_some_seeds_runs_each_of_them_whole_in_the_declared_order():
    every = plan(["se_resnet18"])
    assert len(every) == study.SEEDS["se_resnet18"] * len(study.ARMS)
    some = plan(["se_resnet18"], {3, 4})
    assert some == [row for row in every if row[2] in (3, 4)]
    assert [arm for _, arm, seed in some if seed == 3] == list(study.ARMS)
    assert plan(["deit_tiny", "se_resnet18"], {7}) == [("deit_tiny", arm, 7) for arm in study.ARMS]


@pytest.mark.parametrize(
    "given, regimes, words",
    [
        ("3,x", ["se_resnet18"], "--seeds 3,x: give seeds as numbers separated by commas"),
        ("6", ["se_resnet18"], "--seeds 6: 6 is not a declared seed of se_resnet18 (0-5)"),
        ("-1", ["deit_tiny"], "--seeds -1: -1 is not a declared seed of deit_tiny (0-9)"),
    ],
)
def test_a_seed_that_is_not_declared_is_one_line(given, regimes, words, capsys):
    with pytest.raises(SystemExit):
        study.seed_list(argparse.ArgumentParser(), given, regimes)
    assert words in capsys.readouterr().err
    assert study.seed_list(argparse.ArgumentParser(), "0,5", regimes) == {0, 5}
