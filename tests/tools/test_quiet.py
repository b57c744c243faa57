"""What the tools leave out or say in other words: Paddle's C++ export warning is dropped from stderr and
every other line kept, in order, also when the step fails; a warmed-up schedule is named by what runs."""

import os
import sys

import paddle
import pytest

from paddleclas_rdrop.tools.quiet import PIR_EXPORT_WARNING, dropping_fd_lines
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
