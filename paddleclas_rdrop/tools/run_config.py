"""A tool run's config, read once and checked once, in one declared order: `load_run(mode, argv) -> Run`.

The order (`load_run`):
1. the arguments (`-h` and a missing `-c` before anything else);
2. the YAML, read once (`read_checked`), and the `-o` keys checked against it (a key path that is not well
   formed, a typo at any depth); the keys nothing known reads noted, for the warnings;
3. the engine selected (PaddleClas's Engine from a source tree, else the standalone one);
4. `config_of`: the overrides applied as PaddleClas's `get_config` applies them, to the YAML already read; the
   paths it names resolved once (`data.paths.resolve_paths`: `~` and variables expanded, a folder or URL given
   as weights named); the values against the schema (`values.check_values`; a key at an off value that
   PaddleClas's Engine would read as set is left out: `values.leave_out_off_values`); on PaddleClas's Engine, the
   classes it names found in the tree's PaddleClas (`class_names.check_class_names`);
5. the mutual-learning and R-Drop contracts (one
   `RDropSettings`, alpha written into the `RDropLoss` entry: `settings.sync_alpha`); the keys for imbalanced
   classes (`data.imbalance.settle_imbalance`: `ClassWeightedCELoss`'s `class_weights: balanced` made one weight
   per class from the train list, `ClassBalancedSampler`'s seed from `Global.seed`); every top-k at or above
   the class count left out, with one warning (`data.topk.settle_topk`: a top-k that is always 1.0 is not
   printed as a metric, on either engine); with `tools/eval.py --corruptions`, the Eval list checked and its
   metric added (`corrupted_eval.prepare`);
6. the pre-flight checks: device, output folders, `Global.keep_checkpoint_max`, and, for training, the
   batches of an epoch (`data.lists.train_batches`, read once), something left to train and a resume whose
   schedule continues; then the files the run loads from `Global.checkpoints` (a resume with epochs left) and
   `Global.pretrained_model` read back (`runs.checkpoint_files`). None of them writes.

The functions downstream take their values from the `Run`, not from the raw dict.
"""

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple

from .args import MODES


@dataclasses.dataclass(frozen=True)
class Run:
    """One tool run, checked: `config` is the dict PaddleClas's Engine reads (`AttrDict`, overrides applied),
    `settings` the `RDropSettings`, `keep` `Global.keep_checkpoint_max` (None: every epoch checkpoint
    kept), `schedule` what a resume must share (`runs.checkpoints.schedule_of`), `output_dir`
    `Global.output_dir`, `engine` `"paddleclas"` or `"standalone"`, `build_engine` the function that
    builds it, `engine_line` the line that says which engine runs, the arguments, and `warnings`, the lines
    the settled config gives, logged once the engine is built."""

    mode: str
    config: Dict[str, Any]
    settings: Any
    keep: Optional[int]
    schedule: Dict[str, Any]
    output_dir: str
    engine: str
    build_engine: Callable
    engine_line: str
    config_path: str
    overrides: List[str]
    profiler_options: Optional[str] = None
    warnings: Tuple[str, ...] = ()
    corruptions: Optional[str] = None  # tools/eval.py --corruptions: the copies' folder ("": the default one)

    @property
    def on_tree(self) -> bool:
        """Whether PaddleClas's Engine (from a source tree) runs."""
        return self.engine == "paddleclas"

    def naming_paths(self) -> Any:
        """A context within which an OSError of a file at or under a path the config names is a `PathError` naming
        its key (`data.paths.naming_config_paths`): `error: Global.output_dir <path>: File name too long: ...`."""
        from .data.paths import naming_config_paths

        return naming_config_paths(self.config)


def read_checked(config_path: str, overrides: List[str], warnings: Optional[List[str]] = None) -> Dict[str, Any]:
    """The YAML at `config_path`, read once (`config_file.read_config`), with every `-o` key of `overrides`
    checked against it (`typos.check_overrides`: a key path that is not well formed, or a typo). The lines of the
    keys that nothing known reads (the new `-o` keys, and the YAML's keys close to a key the schema declares:
    `typos.unread_keys`) are added to `warnings` when given. Raises `ConfigError`."""
    from .data.config_file import read_config
    from .typos import check_overrides, unread_keys

    yaml_config = read_config(config_path)
    notes = check_overrides(yaml_config, config_path, overrides)
    if warnings is not None:
        warnings += unread_keys(yaml_config, config_path) + notes
    return yaml_config


def config_of(
    config_module, yaml_config: Dict[str, Any], overrides: List[str], check_weights: bool = True
) -> Dict[str, Any]:
    """The config PaddleClas's `get_config` makes of the YAML already read (`yaml_config`, not changed) and
    `overrides`: an `AttrDict`, strings read as Python literals, the overrides applied (without its "A new
    field" lines: `read_checked` words its own notes of the new keys); then its paths resolved
    (`data.paths.resolve_paths`; with `check_weights`, the weights and checkpoints it names found), every value
    checked against the schema (`values.check_values`), and the keys at an off value that PaddleClas's Engine
    would read as set left out (`values.leave_out_off_values`). `config_module`: PaddleClas's
    `ppcls.utils.config`, the tree's or the wheel's. Raises `ConfigError`."""
    import copy

    from .data.paths import resolve_paths
    from .quiet import dropping_lines
    from .values import check_values, leave_out_off_values

    config = config_module.AttrDict(copy.deepcopy(yaml_config))
    config_module.create_attr_dict(config)
    with dropping_lines("stdout", ("A new field (", "A new Series field (")):
        config_module.override_config(config, overrides)
    resolve_paths(config, check=check_weights)
    check_values(config)
    leave_out_off_values(config)
    return config


def load_run(mode: str, argv: Optional[List[str]] = None, announce: Callable[[str], None] = print) -> Run:
    """Read and check the run of the tool of `mode` on `argv` (default: the command line), in the order of
    the module's docstring; `announce` is given the line that says which engine runs, once it is chosen.
    Raises `ConfigError` (or the lists' `DataError`) with the key and the fix."""
    import paddle

    from ..adapter.mutual import check_mutual_contract
    from ..adapter.settings import RDropSettings, sync_alpha
    from .args import parse_args
    from .class_names import check_class_names
    from .data.imbalance import settle_imbalance
    from .data.lists import train_batches
    from .data.topk import settle_topk
    from .engines import select_engine
    from .preflight import check_device, check_something_to_train
    from .runs.checkpoint_files import check_checkpoint_files, untrained_warning
    from .runs.checkpoints import keep_of, schedule_of
    from .runs.outputs import check_outputs

    assert mode in MODES, mode
    args = parse_args(mode, argv)
    warnings: List[str] = []
    yaml_config = read_checked(args.config, args.override, warnings)
    engine, build_engine, config_module, engine_line = select_engine()
    announce(engine_line)
    config = config_of(config_module, yaml_config, args.override)
    check_class_names(config, engine)
    check_mutual_contract(config)
    settle_imbalance(config, mode)
    topk_warning = settle_topk(config, mode)
    settings = RDropSettings.from_config(config)
    sync_alpha(config, settings)
    check_device(config)
    check_outputs(config, mode)
    corruptions = getattr(args, "corruptions", None)
    if corruptions is not None:
        from .corrupted_eval import prepare

        prepare(config, corruptions, paddle.distributed.get_world_size())
    keep = keep_of(config) if mode == "train" else None
    batches = train_batches(config, paddle.distributed.get_world_size(), engine) if mode == "train" else None
    if mode == "train":
        check_something_to_train(config, batches)
    check_checkpoint_files(config, mode)  # after: a resume with nothing left to train loads no weights
    return Run(
        mode=mode,
        config=config,
        settings=settings,
        keep=keep,
        schedule=schedule_of(config, batches),
        output_dir=config["Global"].get("output_dir") or "./output/",
        engine=engine,
        build_engine=build_engine,
        engine_line=engine_line,
        config_path=args.config,
        overrides=list(args.override),
        profiler_options=args.profiler_options,
        warnings=tuple(filter(None, (*warnings, topk_warning, untrained_warning(config, mode)))),
        corruptions=corruptions,
    )
