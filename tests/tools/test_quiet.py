"""What the tools leave out or say in other words: Paddle's C++ export warning is dropped from stderr and
every other line kept, in order, also when the step fails; a warmed-up schedule is named by what runs, and
resumes without Paddle's warning about its own saved key."""

import os
import sys
import warnings

import paddle
import pytest
from paddle.optimizer.lr import CosineAnnealingDecay, LinearWarmup

from paddleclas_rdrop.tools.quiet import PIR_EXPORT_WARNING, UNUSED_LR_STATE, dropping_fd_lines, resuming_quietly
from paddleclas_rdrop.tools.runs.log import lr_name


def write_to_fd2(*lines):
    for line in lines:
        os.write(2, (line + "\n").encode())


def test_the_export_warning_is_dropped_and_the_other_lines_kept_in_order(capfd):
    with dropping_fd_lines(2, [PIR_EXPORT_WARNING]):
        write_to_fd2("first", f"W1130 eager_utils.cc:3584] {PIR_EXPORT_WARNING} for now!!!!!", "last")
    assert capfd.readouterr().err == "first\nlast\n"


def test_the_held_lines_come_out_when_the_step_fails(capfd):
    with pytest.raises(RuntimeError):
        with dropping_fd_lines(2, [PIR_EXPORT_WARNING]):
            write_to_fd2("why it failed")
            raise RuntimeError("export failed")
    assert capfd.readouterr().err == "why it failed\n"
    print("stderr works again", file=sys.stderr)
    assert "stderr works again" in capfd.readouterr().err


def test_a_warm_up_is_named_until_it_ends_then_the_schedule_it_wraps():
    schedule = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(0.1, T_max=10), warmup_steps=2, start_lr=0.0, end_lr=0.1
    )
    names = []
    for _ in range(4):
        names.append(lr_name(schedule))
        schedule.step()
    assert names == ["LinearWarmup", "LinearWarmup", "CosineAnnealingDecay", "CosineAnnealingDecay"]
    assert lr_name(paddle.optimizer.lr.LinearWarmup(0.1, warmup_steps=1, start_lr=0.0, end_lr=0.1)) == "LinearWarmup"


def warmed_up():
    return LinearWarmup(CosineAnnealingDecay(0.1, T_max=10), warmup_steps=3, start_lr=0.0, end_lr=0.1)


def warnings_of(load, state):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load(state)
    return [str(w.message) for w in caught if UNUSED_LR_STATE in str(w.message)]


@pytest.mark.parametrize("extra, warned", [({}, False), ({"momentum": 0.9}, True)])
def test_only_the_warm_ups_own_key_is_silent(extra, warned):
    saved = warmed_up()
    saved.step()
    state = {**saved.state_dict(), **extra}
    assert warnings_of(warmed_up().set_state_dict, state)  # Paddle warns either way
    resumed = warmed_up()
    with resuming_quietly():
        assert bool(warnings_of(resumed.set_state_dict, state)) == warned
    assert resumed.last_epoch == saved.last_epoch == 1  # loaded as before
    inner = {**saved.state_dict(), "LinearWarmup_LR": {**saved.state_dict()["LinearWarmup_LR"], "extra": 1}}
    with resuming_quietly():
        assert warnings_of(warmed_up().set_state_dict, inner)  # the wrapped schedule's own unused key: said
    assert LinearWarmup.set_state_dict.__module__ == "paddle.optimizer.lr"  # put back
