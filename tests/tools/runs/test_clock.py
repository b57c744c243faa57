"""The expected run time a training run prints: from measured steps (never the run's first two), within the
first minute of training, with the evaluations' share, and again once the first epoch has ended."""

import time

import pytest

from paddleclas_rdrop.tools.runs.clock import RunClock, Schedule, duration


class Clock:
    """A monotonic clock a test moves; the wall clock is 1000 s ahead of it."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def wall(self):
        return 1000.0 + self.now


def at(moment):
    """The local clock time of the test clock's `moment`, as the line gives it."""
    return time.strftime("%H:%M", time.localtime(1000.0 + moment))


def clock_of(schedule):
    moments, said = Clock(), []
    return moments, said, RunClock(1000.0, schedule, said.append, now=moments.monotonic, wall=moments.wall)


PLAN = Schedule(epochs=10, steps=20, evaluates=lambda epoch: True, eval_images=300, batch_size=60)


def test_durations_read_as_a_person_plans():
    assert [duration(s) for s in (0.04, 9.96, 35.4, 600, 7500)] == ["0.0 s", "10 s", "35 s", "10 min 0 s", "2 h 5 min"]


def test_the_first_estimate_leaves_out_the_start_up_and_counts_the_evaluations():
    moments, said, clock = clock_of(PLAN)
    moments.now = 15.0  # the tool's start-up
    clock.epoch_started(1)
    for moment in [20.0, 30.0] + [30.0 + 2 * n for n in range(1, 10)]:  # a slow first two steps, then 2 s each
        moments.now = moment
        clock.step()
    assert said == []  # 9 steps measured, 18 s: not yet
    moments.now = 50.0
    clock.step()
    # 50 s so far + 188 steps x 2 s + 10 evaluations x 300 images x (2 s / 60 images / 3)
    assert said == [
        f"[Train][Time] expected run time 7 min 39 s, ending about {at(459.3)} (50 s so far; 188 steps left at 2 s, "
        "measured over 10 steps, not the run's first: 6 min 16 s; 10 evaluations of 300 images: about 33 s, at a third "
        "of a training image's time; checkpoint saves not counted until epoch 1 ends)"
    ]
    moments.now = 52.0
    clock.step()
    assert len(said) == 1  # once


@pytest.mark.parametrize("step", [5.0, 15.0, 30.0])
def test_slow_steps_are_estimated_within_a_minute_of_the_first(step):
    moments, said, clock = clock_of(PLAN)
    clock.epoch_started(1)
    moments.now = 10.0
    while not said:
        clock.step()
        moments.now += step
    assert moments.now - step - 10.0 <= max(45.0, 2 * step)  # a minute of training, or the third step


def test_once_the_first_epoch_ends_the_estimate_takes_its_evaluation_and_saves_as_measured():
    plan = Schedule(epochs=4, steps=5, evaluates=lambda epoch: epoch % 2 == 0, eval_images=100, batch_size=10)
    moments, said, clock = clock_of(plan)
    moments.now = 10.0
    clock.epoch_started(2)  # a resumed run: epochs 2 to 4
    for _ in range(5):
        moments.now += 3.0
        clock.step()
    clock.epoch_trained(2)  # at 25 s: 3 steps measured, 9 s, within the epoch: the first estimate comes now
    # 25 s so far + 10 steps x 3 s + 2 evaluations (epochs 2 and 4) x 100 images x (3 s / 10 images / 3)
    assert said[0].startswith(f"[Train][Time] expected run time 1 min 15 s, ending about {at(75)} (25 s so far; 10 ")
    moments.now = 32.0
    clock.evaluated(6.0)
    moments.now = 33.0  # saving: 2 s
    clock.epoch_started(3)
    # 33 s so far + 2 epochs x (5 steps x 3 s + 2 s) + 1 evaluation (epoch 4) x 6 s
    assert said[1] == (
        f"[Train][Time] after epoch 2: expected run time 1 min 13 s, ending about {at(73)} (33 s so far; 2 epochs left "
        "at 15 s of steps, 6.0 s of evaluation (1 left) and 2.0 s of saving and the rest, as measured in epoch 2)"
    )
    assert Schedule(3, 1, lambda epoch: epoch > 1, 0, 1).evaluations(1) == 2
