"""The two engines the tools run, chosen and built: PaddleClas's Engine from a source tree when one is found
(`tree_engine`), else the plugin's standalone engine; either checks the model it builds before it writes
anything (`model_check`)."""

from typing import Callable, List, Tuple


def standalone_engine(config, mode, check, settings=None):
    """The standalone engine on `config`; it checks (`check(model)`) the model it builds before it writes
    anything."""
    from .standalone.engine import StandaloneEngine

    return StandaloneEngine(config, mode=mode, settings=settings, check_model=check)


def select_engine() -> Tuple[str, Callable, object, str]:
    """(`"paddleclas"` or `"standalone"`, the function that builds that engine, PaddleClas's config module
    (the tree's or the wheel's), one line saying which engine runs)."""
    from ..adapter import registry
    from .quiet import leave_logger_to_tree

    try:
        root = registry.register()
    except registry.SourceTreeNotFound:
        from paddleclas.ppcls.utils import config as config_module

        return (
            "standalone",
            standalone_engine,
            config_module,
            f"standalone engine (set {registry.ROOT_VARIABLE} to a PaddleClas checkout for PaddleClas's Engine)",
        )
    from ppcls.utils import config as config_module

    from .tree_engine import tree_engine

    leave_logger_to_tree()
    return "paddleclas", tree_engine, config_module, f"PaddleClas's Engine from the source tree at {root}"


def build_engine(run):
    """The engine of `run` (a `run_config.Run`), its model checked (`model_check`) before it writes anything;
    the run's warnings and those of the check are logged once the engine is built, and a training run's engine
    is prepared for R-Drop (`prepare_engine`) with the model the check prepared."""
    from ..adapter.train_hook import prepare_engine
    from .runs.weights import log_warning

    warnings: List[str] = list(run.warnings)
    prepared: List = []
    check = model_check(run, warnings, prepared)
    if run.on_tree:
        engine = run.build_engine(run.config, run.mode, check, profiler_options=run.profiler_options)
    else:
        engine = run.build_engine(run.config, run.mode, check, settings=run.settings)
    for line in filter(None, warnings):
        log_warning(line)
    if run.mode == "train":
        prepare_engine(engine, run.settings, prepared[0] if prepared else None)
    return engine


def model_check(run, warnings, prepared):
    """The check of the built model, before the engine writes anything: its weights fit (`check_weights`; the
    warning it gives goes to `warnings`) and, in a training run that adds to it, R-Drop's layers and runner,
    made once (`check_model`: the `PreparedModel` goes to `prepared`)."""
    from ..adapter.models import unnamed_arch_keys
    from ..adapter.sections import section_of
    from ..adapter.train_hook import check_model
    from .runs.outputs import check_room
    from .runs.weights import check_weights

    config, mode, settings = run.config, run.mode, run.settings
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
            prepared.append(check_model(model, settings, arch))

    return check
