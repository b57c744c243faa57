"""What `tools/{train,eval,export_model,infer}.py` run: PaddleClas's Engine with the plugin
registered when a PaddleClas source tree is found (`tree_engine`), else the plugin's standalone
engine; the arguments are `args`', the checks before an engine is built `preflight`'s.

Nothing happens at import: `main` first gives the process its CPU threads (before paddle is
imported), then imports paddle and the rest.
"""

import signal
import sys
import time

from .args import MODES
from .threads import share_cores


def standalone_engine(config, mode, check, settings=None):
    """The standalone engine on `config`; it checks (`check(model)`) the model it builds before it writes
    anything."""
    from .standalone.engine import StandaloneEngine

    return StandaloneEngine(config, mode=mode, settings=settings, check_model=check)


def select_engine():
    """(the function that builds the engine, PaddleClas's config module, one line saying which
    engine runs)."""
    from ..adapter import registry
    from .quiet import leave_logger_to_tree

    try:
        root = registry.register()
    except registry.SourceTreeNotFound:
        from paddleclas.ppcls.utils import config as config_module

        return (
            standalone_engine,
            config_module,
            f"standalone engine (set {registry.ROOT_VARIABLE} to a PaddleClas checkout for PaddleClas's Engine)",
        )
    from ppcls.utils import config as config_module

    from .tree_engine import tree_engine

    leave_logger_to_tree()
    return tree_engine, config_module, f"PaddleClas's Engine from the source tree at {root}"


def run(mode, argv=None, threads=None):
    """Parse PaddleClas's `-c/-o/-p` arguments (`argv`, default the command line) and run `mode` on
    the selected engine. The R-Drop settings are parsed once, and the model is checked before the
    engine writes anything. `threads`: what `share_cores` chose (chosen here if not given)."""
    from .quiet import get_config_quietly, import_paddle_quietly

    assert mode in MODES, mode
    threads, user_threads = threads or share_cores()
    import_paddle_quietly()
    import paddle

    from ..adapter.mutual import check_mutual_contract
    from ..adapter.settings import RDropSettings, sync_alpha
    from .args import parse_args
    from .preflight import check_device, check_something_to_train
    from .quiet import engine_log_words
    from .runs.checkpoints import keep_of
    from .runs.log import rewriting_log
    from .runs.outputs import check_outputs
    from .runs.summary import run_summary
    from .runs.weights import log_warning
    from .typos import check_overrides
    from .values import check_values

    started = time.time()
    args = parse_args(mode, argv)  # -h and a missing -c before anything else
    check_overrides(args.config, args.override)
    build_engine, config_module, which = select_engine()
    chosen = " (OMP_NUM_THREADS)" if user_threads else ""
    print(f"paddleclas-rdrop: {which}; {threads} CPU threads per process{chosen}", flush=True)
    config = get_config_quietly(config_module, args.config, args.override)
    check_values(config)
    check_mutual_contract(config)
    settings = RDropSettings.from_config(config)
    sync_alpha(config, settings)
    check_device(config)
    check_outputs(config, mode)
    if mode == "train":
        keep_of(config)
        check_something_to_train(config)
    warnings = []
    own = {"settings": settings} if build_engine is standalone_engine else {"profiler_options": args.profiler_options}
    engine = build_engine(config, mode, model_check(config, mode, settings, warnings), **own)
    for line in filter(None, warnings):
        log_warning(line)
    with rewriting_log(engine_log_words(engine, mode)):
        result = use_engine(engine, mode, config, settings, on_tree=build_engine is not standalone_engine)
    if mode == "train" and paddle.distributed.get_rank() == 0:
        print("\n".join(run_summary(config, args.config, args.override, time.time() - started)), flush=True)
    return result


def model_check(config, mode, settings, warnings):
    """The check of the built model, before the engine writes anything: its weights fit (`check_weights`; the
    warning it gives goes to `warnings`) and, in a training run that adds to it, R-Drop's layers and runner."""
    from ..adapter.models import unnamed_arch_keys
    from ..adapter.sections import section_of
    from ..adapter.train_hook import check_model
    from .runs.outputs import check_room
    from .runs.weights import check_weights

    prepares = mode == "train" and (settings.rdrop or settings.adds_layers or settings.augment_per_pass)

    def check(model):
        warnings.append(check_weights(model, config, mode))
        arch = section_of(config, "Arch")
        for key, hint in unnamed_arch_keys(arch, model):
            warnings.append(
                f"Arch.{key}: {arch.get('name')} names no such argument and reads no such key of its **kwargs, so "
                f"it is likely ignored{hint}"
            )
        if mode == "train":
            check_room(model, config)
        if prepares:
            check_model(model, settings)

    return check


def use_engine(engine, mode, config, settings, on_tree):
    """What the tool of `mode` does with the built `engine` (`on_tree`: PaddleClas's Engine)."""
    from .export import export_whole

    if mode == "export":
        return export_whole(engine)
    if mode == "infer" and on_tree:
        from .data.lists import unreadable_images
        from .tree_engine import listing_images

        with listing_images() as found:
            results = engine.infer()
        if found["undecodable"]:
            raise unreadable_images(found["undecodable"], len(found["listed"]))
        return results
    if mode != "train":
        return getattr(engine, mode)()
    return train(engine, config, settings, on_tree)


def train(engine, config, settings, on_tree):
    """Train the built `engine`: prepared for R-Drop, guarded (`guard_training`), stopped at a safe point by
    SIGINT and SIGTERM, saving whole checkpoints through the run's one `Checkpointer`, which is closed (every
    checkpoint whole on disk, or its `SaveError`) before the run's summary or its stop line. An error that
    ends training is told to the other ranks; `TrainingStopped` leaves with its `line` and `told`, an
    `RDropError` with its `told`."""
    from ..adapter.train_hook import prepare_engine
    from ..core.errors import RDropError, TrainingStopped, first_line
    from .runs.checkpoints import Checkpointer, keep_of, schedule_of
    from .runs.guards import guard_training
    from .runs.ranks import StopTogether
    from .runs.signals import StopOnSignals, stopped_line

    prepare_engine(engine, settings)
    output_dir = config["Global"]["output_dir"]
    checkpoints = Checkpointer(output_dir, schedule_of(config), keep_of(config))
    with StopOnSignals() as stop, StopTogether(output_dir, checkpoints) as ranks:
        guard_training(engine, stop.requested)
        try:
            with checkpoints:  # leaving it waits for every save; an error that ended training is the one reported
                if on_tree:
                    from .tree_engine import whole_checkpoints

                    with whole_checkpoints(checkpoints):
                        return engine.train()
                return engine.train(checkpoints)
        except TrainingStopped as stopped:
            stopped.line = stopped_line(stopped, output_dir, stop.started, config["Global"].get("checkpoints"))
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
        sys.exit(128 + signal.Signals[stop.signal_name].value)
    except NothingLeftToTrain as refusal:  # raised before training: never told to the other ranks
        sys.exit(f"error: {repair_latest(refusal)}")
    except RDropError as error:
        sys.exit(1 if error.told else f"error: {error}")
