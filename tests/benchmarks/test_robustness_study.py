"""benchmarks/robustness_study.py's plan: the seeds a process runs (`--seeds`), each seed's arms in the declared
order, a seed outside the declared ones refused naming it, and a seed another process holds left to it."""

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
        ("6", ["se_resnet18"], "--seeds 6: 6 is not a declared seed (declared: se_resnet18 0-5)"),
        ("-1", ["deit_tiny"], "--seeds -1: give seeds as numbers separated by commas"),
        ("3_0", ["deit_tiny"], "--seeds 3_0: give seeds as numbers separated by commas"),
        ("10", ["deit_tiny", "se_resnet18"], "10 is not a declared seed (declared: deit_tiny 0-9, se_resnet18 0-5)"),
    ],
)
def test_a_seed_that_is_not_declared_is_one_line(given, regimes, words, capsys):
    with pytest.raises(SystemExit):
        study.seed_list(argparse.ArgumentParser(), given, regimes)
    assert words in capsys.readouterr().err
    assert study.seed_list(argparse.ArgumentParser(), "0,5", regimes) == {0, 5}


def test_a_seed_is_run_by_one_process_at_a_time(tmp_path):
    held = study.claim(str(tmp_path), 3)
    assert held is not None and study.claim(str(tmp_path), 3) is None  # another holder of seed 3 is refused
    other = study.claim(str(tmp_path), 4)
    assert other is not None
    held.close(), other.close()
    again = study.claim(str(tmp_path), 3)  # free once its holder is gone
    assert again is not None
    again.close()
