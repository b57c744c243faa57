"""What `tools/{train,eval,export_model,infer}.py` run: a run loaded and checked once (`run_config.load_run`),
its engine built (`engines.build_engine`: PaddleClas's Engine when a PaddleClas source tree is found, else
the plugin's standalone engine), and used.

Nothing happens at import: `main` first gives the process its CPU threads (before paddle is
imported), then imports paddle and the rest.
"""

import signal
import sys
import time

from .threads import share_cores


def run(mode, argv=None, threads=None):
    """Run the tool of `mode` on PaddleClas's `-c/-o/-p` arguments (`argv`, default the command line): load and
    check the run (`load_run`), build its engine, use it. `threads`: `share_cores`'s choice (made here if None)."""
    from .quiet import engine_log_words, import_paddle_quietly
    from .runs.log import rewriting_log

    threads, user_threads = threads or share_cores()
    started = time.time()
    import_paddle_quietly()
    from .engines import build_engine
    from .evaluations import recording_evaluations
    from .run_config import load_run

    loaded = load_run(mode, argv, announce=lambda which: say(f"{which}; {threads_line(threads, user_threads)}"))
    with loaded.naming_paths(), fresh_names():  # an OSError of a path the config names names its key
        engine = build_engine(loaded)
        with rewriting_log(engine_log_words(engine, mode)), recording_evaluations(engine, loaded, say) as evaluations:
            result = use_engine(engine, loaded, started)
    summarise(loaded, time.time() - started, evaluations)
    return result


def threads_line(threads, user_threads):
    """How many CPU threads each process uses, and whether OMP_NUM_THREADS chose them."""
    return f"{threads} CPU threads per process" + (" (OMP_NUM_THREADS)" if user_threads else "")


def fresh_names():
    """Paddle's names of the run's tensors (parameters, an optimizer's accumulators such as
    `conv2d_0.w_0_velocity_0`) counted from 0, as in a fresh process: the checkpoint of a second run in one
    Python process resumes in another, and a resume after other runs in a process finds the names it saved."""
    import paddle

    return paddle.utils.unique_name.guard()


def say(line):
    """`paddleclas-rdrop: <line>` on stdout, at once."""
    print(f"paddleclas-rdrop: {line}", flush=True)


def summarise(run, seconds, evaluations=None):
    """After a training run, on the first process: the summary (`run_summary`) of `run`, which took `seconds`,
    with the balanced accuracy of its `evaluations` (an `evaluations.Evaluations`, or None)."""
    import paddle

    from .runs.summary import run_summary

    if run.mode == "train" and paddle.distributed.get_rank() == 0:
        balanced = evaluations.balanced_accuracy if evaluations else None
        print("\n".join(run_summary(run.config, run.config_path, run.overrides, seconds, balanced)), flush=True)


def use_engine(engine, run, started=None):
    """What the tool of `run.mode` does with the built `engine`; `started`: the tool's start (`time.time()`, default
    now), which a training run's expected run time counts from."""
    from .export import export_whole

    if run.mode == "export":
        return export_whole(engine)
    if run.mode == "infer" and run.on_tree:
        from .data.lists import unreadable_images
        from .tree_engine import listing_images

        with listing_images() as found:
            results = engine.infer()
        if found["undecodable"]:
            raise unreadable_images(found["undecodable"], len(found["listed"]))
        return results
    if run.corruptions is not None:
        from .corrupted_eval import evaluate_corrupted

        return evaluate_corrupted(engine, run)
    if run.mode != "train":
        return getattr(engine, run.mode)()
    return train(engine, run, started or time.time())


def train(engine, run, started):
    """Train the built and prepared `engine`: guarded (`guard_training`), stopped at a safe point by SIGINT and
    SIGTERM, saving whole checkpoints through the run's one `Checkpointer`, which is closed (every checkpoint
    whole on disk, or its `SaveError`) before the run's summary or its stop line. An error that ends training
    is told to the other ranks; `TrainingStopped` leaves with its `line` (also written to the run's log file)
    and `told`, an `RDropError` with its `told`. Its expected run time, counted from `started` (the tool's start),
    is printed within its first minute and after its first epoch (`runs.clock.time_training`)."""
    from ..core.errors import RDropError, TrainingStopped, first_line
    from .quiet import resuming_quietly
    from .runs.checkpoints import Checkpointer
    from .runs.clock import time_training
    from .runs.guards import guard_training
    from .runs.log import to_log_files
    from .runs.ranks import StopTogether
    from .runs.signals import StopOnSignals, stopped_line

    config, on_tree = run.config, run.on_tree
    checkpoints = Checkpointer(run.output_dir, run.schedule, run.keep)
    with StopOnSignals() as stop, StopTogether(run.output_dir, checkpoints) as ranks, resuming_quietly():
        guard_training(engine, stop.requested)
        time_training(engine, run, started)
        try:
            with checkpoints:  # leaving it waits for every save; an error that ended training is the one reported
                if on_tree:
                    from .tree_engine import whole_checkpoints

                    with whole_checkpoints(checkpoints):
                        return engine.train()
                return engine.train(checkpoints)
        except TrainingStopped as stopped:
            stopped.line = stopped_line(stopped, run.output_dir, stop.started, config["Global"].get("checkpoints"))
            to_log_files(stopped.line)
            stopped.told = ranks.tell(stopped.line)
            raise
        except RDropError as error:
            error.told = ranks.tell(f"error: {error}")
            raise
        except BaseException as error:  # any other end of one rank ends them all
            ranks.tell(f"error: {type(error).__name__}: {first_line(error)}")
            raise


def main(mode):
    """Entry point of the tools: the process's CPU threads first, then `run`; a user's mistake ends
    in one line `error: ...` and exit code 1, without a traceback; a signal's stop in its `line` and exit
    code 128 + the signal. A line told to the other ranks already (`told`) is not printed again. A resume
    refused with nothing left to train first runs its repair step (`outputs.repair_latest`: a `latest` a
    stop left behind becomes a copy of the refused checkpoint), and its line says so."""
    threads = share_cores()
    from ..core.errors import RDropError, TrainingStopped
    from .quiet import quiet_after_success
    from .runs.checkpoints import NothingLeftToTrain
    from .runs.outputs import repair_latest

    try:
        run(mode, threads=threads)
        quiet_after_success()
    except TrainingStopped as stop:
        if not stop.told:  # printed already when it was told to the other ranks
            print(stop.line or f"stopped by {stop}", file=sys.stderr, flush=True)
        stop.told = True  # a signal from here on adds no line of its own (`interrupts`)
        sys.exit(128 + signal.Signals[stop.signal_name].value)
    except NothingLeftToTrain as refusal:  # raised before training: never told to the other ranks
        sys.exit(f"error: {repair_latest(refusal)}")
    except RDropError as error:
        sys.exit(1 if error.told else f"error: {error}")
