"""The tests' forked tool runs (`forks`) behave as a new interpreter does: the same seeded training, the
same refusal and exit code, the same traceback exit for a script that raises."""

import os
import sys

import pytest

import forks
from engine_runs import ENGINES, TINY, engine_param, overrides, refusals, run_tool, step_losses


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_a_forked_run_trains_and_refuses_as_a_new_interpreter_does(workdir, engine):
    runs = {}
    for fresh in (True, False):
        extra = overrides(workdir, f"{engine}_{fresh}") + TINY + ["Global.seed=0"]
        runs[fresh] = run_tool("train.py", "rdrop_res2net.yaml", extra, cwd=workdir, env=ENGINES[engine], fresh=fresh)
    losses = {fresh: step_losses(run.stdout, "RDropLoss") for fresh, run in runs.items()}
    assert losses[True] and losses[True] == losses[False]
    assert runs[False].stdout.count("== paddleclas-rdrop: the run ended ==") == 1
    refused = {
        fresh: run_tool(
            "train.py",
            "rdrop_res2net.yaml",
            ["Global.epochs=two"],
            cwd=workdir,
            env=ENGINES[engine],
            check=False,
            fresh=fresh,
        )
        for fresh in (True, False)
    }
    assert refused[True].returncode == refused[False].returncode != 0
    assert refused[True].stderr.strip().splitlines()[-1] == refused[False].stderr.strip().splitlines()[-1]
    assert "error: Global.epochs" in refused[False].stderr


def test_a_script_that_raises_exits_1_with_its_traceback_and_exit_codes_pass_through(tmp_path):
    env = dict(os.environ)
    for body, code, out, err in (
        ("raise ValueError('broken')", 1, "", "ValueError: broken"),
        ("import sys; print('out'); sys.exit(3)", 3, "out\n", ""),
        ("import sys; sys.exit('a message')", 1, "", "a message"),
        ("import os, sys; print(sys.argv[1:], os.getcwd())", 0, f"['x'] {tmp_path}\n", ""),
    ):
        script = tmp_path / "script.py"
        script.write_text(body + "\n")
        result = forks.run([sys.executable, str(script), "x"], cwd=tmp_path, env=env, timeout=60)
        assert (result.returncode, result.stdout) == (code, out) and err in result.stderr, (body, result)


def test_a_fork_sees_the_world_size_its_request_sets(workdir):
    """The plugin's registration in a server asks paddle.distributed for the world size, which paddle caches: a
    request with PADDLE_TRAINERS_NUM=2 gets a server of its own, and the refusal a new interpreter gives (2
    processes of 19 images each and a batch of 32 with drop_last leave no batch)."""
    tree = {"PADDLECLAS_ROOT": ENGINES["paddleclas"]["PADDLECLAS_ROOT"] or ""}
    case = overrides(workdir, "world") + TINY + ["DataLoader.Train.sampler.batch_size=32"]
    case += ["DataLoader.Train.sampler.drop_last=True"]
    refusals("train", "rdrop_se_resnet.yaml", [["Global.epochs=0"]], cwd=workdir, env=tree)  # a server without it
    two = {**tree, "PADDLE_TRAINERS_NUM": "2", "PADDLE_TRAINER_ID": "0"}
    (forked,) = refusals("train", "rdrop_se_resnet.yaml", [case], cwd=workdir, env=two)
    fresh = run_tool("train.py", "rdrop_se_resnet.yaml", case, cwd=workdir, env=two, check=False, fresh=True)
    assert fresh.returncode == 1 and "over 2 processes" in forked
    assert fresh.stderr.strip().splitlines()[-1] == forked
