"""The expected run time of a training run of the tools, on both engines, printed (and written to train.log)
as a `[Train][Time]` line twice:

1. within the first minute of training: once `MEASURE_STEPS` steps have been measured over `MEASURE_SECONDS`,
   or `ENOUGH_STEPS` steps, or `WAIT_SECONDS` after the run's first step with one step measured, whichever
   comes first; at the end of the first epoch's steps if that comes sooner. The first step of the run and the
   step after it are never measured (they hold the start-up: kernels chosen, memory allocated); a step is the
   time from one train loss to the next, backward, optimizer and the next batch included. The evaluations are
   not measured yet: each image is estimated at `FORWARD_SHARE` of a training image's measured time (a
   forward alone, where training adds a backward of about two forwards: Kaplan et al., "Scaling Laws for
   Neural Language Models", 2020, section 2.1, 2N against 6N operations per example; R-Drop's extra passes,
   where its strategy runs the trunk once, are not counted out). Saving and the loader's start at each epoch
   are not in it.
2. once the first epoch of the run has ended: the epochs left at the measured step time, plus the first
   epoch's measured evaluation and the rest of it (saving checkpoints, the loader's start).

The expected run time counts from the tool's start (`started`), as the summary's "run time" does; "ends
about" is the local clock time then. `benchmarks/time_estimate.py` compares the first estimate with the run
time on the own-data schedule (docs/benchmarks.md)."""

import dataclasses
import logging
import time
from typing import Callable, List, Optional

PLANNING = (  # what tools/csv_to_lists.py says about the run's time
    "Time: tools/train.py prints the run's expected run time within its first minute of training ('[Train][Time] "
    "expected run time ...'), and again after its first epoch. Ctrl-C stops it in one line; stopped before its "
    "first epoch ends, it has saved nothing and the same command starts it anew. For another --size, write its "
    "lists (another --out) and start train.py on them for a minute."
)
MEASURE_STEPS, MEASURE_SECONDS = 3, 20.0  # the first estimate comes once this many steps took this long...
ENOUGH_STEPS = 20  # ... or once this many steps are measured ...
WAIT_SECONDS = 45.0  # ... or this long after the run's first step, one step measured
FORWARD_SHARE = 1 / 3  # an evaluation image's time against a training image's (forward and backward)


def duration(seconds):
    """`seconds` as "2 h 5 min", "9 min 40 s", "35 s" or "2.5 s" (below 10 s)."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """What a run has to do: `epochs` (`Global.epochs`), `steps` per epoch, which epochs evaluate
    (`evaluates(epoch)`), the images of an evaluation per process (`eval_images`) and the images of a step per
    process (`batch_size`)."""

    epochs: int
    steps: int
    evaluates: Callable[[int], bool]
    eval_images: int
    batch_size: int

    def evaluations(self, first, last=None):
        """How many of the epochs `first`..`last` (default `epochs`) evaluate."""
        return sum(1 for epoch in range(first, (last or self.epochs) + 1) if self.evaluates(epoch))


class RunClock:
    """Times the steps, epochs and evaluations of one training run and says (`say`) its expected run time as
    the module's docstring describes. `started`: the tool's start (`time.time()`); `now`: the monotonic clock
    (`time.monotonic`; a test gives its own), `wall`: the wall clock (`time.time`)."""

    def __init__(
        self, started: float, schedule: Schedule, say: Callable[[str], None], now=time.monotonic, wall=time.time
    ):
        self.schedule, self.say, self.now, self.wall = schedule, say, now, wall
        self.started = started - wall() + now()  # the tool's start on the monotonic clock
        self.first_epoch: Optional[int] = None
        self.epoch, self.step_in_epoch, self.steps_seen = 0, 0, 0
        self.last_step: Optional[float] = None
        self.first_step: Optional[float] = None
        self.intervals: List[float] = []
        self.estimated = False
        self.epoch_start = self.trained_at = 0.0
        self.eval_seconds = 0.0  # the evaluations since the last epoch's steps ended
        self.first_epoch_train = self.first_epoch_eval = self.first_epoch_rest = None

    def epoch_started(self, epoch_id: int) -> None:
        """At the start of epoch `epoch_id` (its steps about to run)."""
        moment = self.now()
        if self.first_epoch is None:
            self.first_epoch = epoch_id
        elif epoch_id == self.first_epoch + 1 and self.first_epoch_train is not None:
            self.first_epoch_eval = self.eval_seconds
            self.first_epoch_rest = max(0.0, moment - self.trained_at - self.eval_seconds)
            self.say(self.after_first_epoch(epoch_id, moment))
        self.epoch, self.step_in_epoch, self.last_step, self.epoch_start = epoch_id, 0, None, moment

    def step(self) -> None:
        """At each training step, once its loss is computed (the interval from the previous step of the same
        epoch is one step's time; the run's first two steps are not measured)."""
        moment = self.now()
        self.steps_seen += 1
        self.step_in_epoch += 1
        if self.last_step is not None and self.steps_seen > 2:  # the run's first two steps hold its start-up
            self.intervals.append(moment - self.last_step)
        self.last_step = moment
        self.first_step = moment if self.first_step is None else self.first_step
        if not self.estimated and self.intervals and self._measured_enough(moment):
            self.say(self.first_estimate(moment))
            self.estimated = True

    def _measured_enough(self, moment):
        count, measured = len(self.intervals), sum(self.intervals)
        return (
            (count >= MEASURE_STEPS and measured >= MEASURE_SECONDS)
            or count >= ENOUGH_STEPS
            or moment - self.first_step >= WAIT_SECONDS
        )

    def epoch_trained(self, epoch_id: int) -> None:
        """When the steps of epoch `epoch_id` have run (its evaluation and saves come next)."""
        self.trained_at = self.now()
        if epoch_id == self.first_epoch:
            self.first_epoch_train = self.trained_at - self.epoch_start
        self.eval_seconds = 0.0
        if not self.estimated and self.intervals:
            self.say(self.first_estimate(self.trained_at, steps_done=self.step_in_epoch))
            self.estimated = True

    def evaluated(self, seconds: float) -> None:
        """An evaluation of the run took `seconds`."""
        self.eval_seconds += seconds

    def step_seconds(self) -> float:
        """The mean measured step time."""
        return sum(self.intervals) / len(self.intervals)

    def first_estimate(self, moment: float, steps_done: Optional[int] = None) -> str:
        """The first `[Train][Time]` line, at `moment` (monotonic), `steps_done` steps into the current epoch."""
        plan, step = self.schedule, self.step_seconds()
        done = self.step_in_epoch if steps_done is None else steps_done
        steps_left = plan.steps - done + (plan.epochs - self.epoch) * plan.steps
        evaluations = plan.evaluations(self.epoch)
        per_image = step / max(1, plan.batch_size) * FORWARD_SHARE
        evaluation = evaluations * plan.eval_images * per_image
        elapsed = moment - self.started
        left = steps_left * step + evaluation
        measured = len(self.intervals)
        eval_part = (
            f"; {evaluations} evaluation{'s' * (evaluations != 1)} of {plan.eval_images} images: about "
            f"{duration(evaluation)}, at a third of a training image's time"
            if evaluations
            else ""
        )
        return (
            f"[Train][Time] expected run time {duration(elapsed + left)}, ending about {self._clock(left)} "
            f"({duration(elapsed)} so far; {steps_left} steps left at {step:.3g} s, measured over {measured} step"
            f"{'s' * (measured != 1)}, not the run's first: {duration(steps_left * step)}{eval_part}; checkpoint "
            f"saves not counted until epoch {self.epoch} ends)"
        )

    def after_first_epoch(self, epoch_id: int, moment: float) -> str:
        """The `[Train][Time]` line at the start of epoch `epoch_id`, the run's second, at `moment`."""
        plan = self.schedule
        step = self.step_seconds() if self.intervals else self.first_epoch_train / plan.steps
        epochs_left = plan.epochs - epoch_id + 1
        evaluations = plan.evaluations(epoch_id)
        per_eval = self.first_epoch_eval if plan.evaluates(self.first_epoch) else 0.0
        left = epochs_left * (plan.steps * step + self.first_epoch_rest) + evaluations * per_eval
        elapsed = moment - self.started
        eval_part = f", {duration(per_eval)} of evaluation ({evaluations} left)" if per_eval and evaluations else ""
        return (
            f"[Train][Time] after epoch {self.first_epoch}: expected run time {duration(elapsed + left)}, ending "
            f"about {self._clock(left)} ({duration(elapsed)} so far; {epochs_left} epoch"
            f"{'s' * (epochs_left != 1)} left at {duration(plan.steps * step)} of steps{eval_part} and "
            f"{duration(self.first_epoch_rest)} of saving and the rest, as measured in epoch {self.first_epoch})"
        )

    def _clock(self, left):
        """The local clock time `left` seconds from now, "14:32"."""
        return time.strftime("%H:%M", time.localtime(self.wall() + left))


def schedule_of_engine(engine, run):
    """The `Schedule` of a prepared `engine` of `run` (a `run_config.Run`), as the engines read it."""
    import paddle

    from ...adapter.sections import section_of

    glob = section_of(run.config, "Global")
    interval = int(glob.get("eval_interval") or 1)
    start_eval = int(glob.get("start_eval_epoch") or 0)
    evaluates_at_all = bool(glob.get("eval_during_train", True)) and getattr(engine, "eval_dataloader", None)
    processes = max(1, paddle.distributed.get_world_size())
    eval_images = len(engine.eval_dataloader.dataset) // processes if evaluates_at_all else 0
    batch = section_of(run.config, "DataLoader", "Train", "sampler").get("batch_size") or 1
    return Schedule(
        epochs=int(glob.get("epochs") or 1),
        steps=int(engine.iter_per_epoch),
        evaluates=lambda epoch: bool(evaluates_at_all) and epoch % interval == 0 and epoch > start_eval - 1,
        eval_images=eval_images,
        batch_size=int(batch),
    )


def time_training(engine, run, started):
    """Time the training of a prepared and guarded `engine` of `run` with a `RunClock` from `started` (the tool's
    start): the engine's `train_epoch_func` (called once per epoch by both engines), its train loss's `check`
    (called at every step: `train_hook.TrainLoss`) and its `eval`, each wrapped on this engine. Returns the clock."""
    logger = logging.getLogger("ppcls")  # the logger both engines' logs go to: the console and train.log
    clock = RunClock(started, schedule_of_engine(engine, run), logger.info)
    loss, epoch_func, evaluate = engine.rdrop_plugin.loss, engine.train_epoch_func, engine.eval
    check = loss.check

    def timed_check(loss_dict):
        clock.step()
        if check is not None:
            check(loss_dict)

    def timed_epoch(engine, epoch_id, print_batch_step):
        clock.epoch_started(epoch_id)
        epoch_func(engine, epoch_id, print_batch_step)
        clock.epoch_trained(epoch_id)

    def timed_eval(*args, **kwargs):
        began = time.monotonic()
        try:
            return evaluate(*args, **kwargs)
        finally:
            clock.evaluated(time.monotonic() - began)

    loss.check, engine.train_epoch_func, engine.eval = timed_check, timed_epoch, timed_eval
    return clock
