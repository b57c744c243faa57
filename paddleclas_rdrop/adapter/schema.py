"""Every config key the tools and the standalone engine read, declared once (`KEYS`): its type rule, its
default, which engine reads it, and whether a recipe may leave it out.

Everything else that knows keys reads this table:
- `values.check_values`: the type and range of every value (`rule_for`), before anything is built;
- `typos.check_overrides`: a new `-o` key that is `optional` here is PaddleClas's to read, not a typo;
- `adapter.settings`: the keys of the `RDrop` section, their defaults and help (`defaults`, `key_help`);
- `runs.outputs.check_outputs`: the folders each tool writes (`written`);
- the standalone engine: the keys it takes in each section and their defaults (`taken`), the top-level
  sections it knows (`sections`), and the `Global` keys only PaddleClas's Engine reads (`paddleclas_only`),
  which it names in its refusal;
- `runs.checkpoints.check_resume`: the names of a checkpoint's schedule record (`schedule_names`);
- `compare.arms`: the `RDrop` keys a baseline twin keeps (`layer_keys`); `data.imbalance`: the keys of a
  `ClassWeightedCELoss` entry (`rows_under`).

The rows of rule kind `path` are the paths a config names: `tools/data/paths.resolve_paths` expands each
once (`~`, environment variables) and resolves the `checkpoint` ones (a checkpoint prefix or a URL of weights).

Adding a key PaddleClas reads is one row. A row's `path` is a pattern of key parts: `*` is one key or list
index, `**` any number of them (`Optimizer.**.momentum` is `Optimizer.momentum` and, in PaddleClas's list of
optimizers, `Optimizer.0.Momentum.momentum`).

The table is read at each call, never copied at import, so that a row added at run time is checked
everywhere (tests/adapter/test_schema.py adds one).
"""

import copy
import dataclasses
import functools
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.errors import ConfigError
from .rules import FLAG, NONE_OR_FALSE, PATH, RATE, REGULARIZER, SECTION, WEIGHTS, Rule, number, whole  # noqa: F401 (also schema.Rule, schema.whole)

ENGINES = ("both", "paddleclas")  # who reads a key: both engines, or PaddleClas's Engine only
NO_DEFAULT = object()  # a key without a default of the standalone engine's


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key (or top-level section: a `path` of one part).

    `rule`: its type rule (None: not checked here, `note` says why); `default`: the standalone engine's
    value when the config leaves it out (`NO_DEFAULT`: none); `engine`: `both`, or `paddleclas` for a
    key only PaddleClas's Engine reads; `optional`: a recipe may leave it out, so an `-o` that adds it is
    PaddleClas's to read, not a typo; `checkpoint`: a `path` key naming weights, a checkpoint's path without
    `.pdparams` or a URL (`tools/data/paths.resolve_paths` resolves a folder, a `.pdparams` file and a URL);
    `off_is_absent`: PaddleClas's Engine reads whether the key is there, so at one of its rule's off values the
    key is left out of the config (`values.leave_out_off_values`); `written_by`: the tools (modes) that write
    into the folder a `path` key names (`written`); `help`: what the tools' -h says of it; `required`: the
    standalone engine refuses its section without it (True, or the section `name`s that need it); `of`: the
    section `name`s whose component reads it (empty: every one); `schedule`: its name in a checkpoint's
    schedule record, which a resume must share; `layer`: an `RDrop` key of a stochastic layer; `arguments`: a
    section whose keys are the arguments of the class it names (a dataset, a sampler, an optimizer, a schedule),
    which the rows need not all declare (`typos.unread_keys` names only the keys of the other sections)."""

    path: str
    rule: Optional[Rule] = None
    default: Any = NO_DEFAULT
    engine: str = "both"
    optional: bool = False
    note: str = ""
    off_is_absent: bool = False
    checkpoint: bool = False
    written_by: Tuple[str, ...] = ()
    help: str = ""
    required: Any = False
    of: Tuple[str, ...] = ()
    schedule: str = ""
    layer: bool = False
    arguments: bool = False

    @functools.cached_property
    def parts(self) -> Tuple[str, ...]:
        """`path` split at its dots (split once: a config's walk matches every key against every row)."""
        return tuple(self.path.split("."))


def _global(name, rule=None, default=NO_DEFAULT, engine="both", **fields):
    """A `Global` key: PaddleClas's recipes leave any of them to their defaults."""
    return Key(f"Global.{name}", rule, default, engine, optional=True, **fields)


def _rdrop(name, default, help, layer=False):
    """A key of the `RDrop` section: `adapter.settings.parse_section` checks it with the core's checks.
    `layer`: it adds or places a stochastic layer, which a baseline twin keeps (`layer_keys`)."""
    return Key(
        f"RDrop.{name}", None, default, optional=True, note="checked by adapter.settings", help=help, layer=layer
    )


ALL_TOOLS = ("train", "eval", "infer", "export")


SAMPLERS = (
    "DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler", "DistributedRandomIdentitySampler", "PKSampler",
    "MixSampler", "MultiScaleSampler", "RASampler", "DomainShuffleBatchSampler", "NaiveIdentityBatchSampler",
)  # fmt: skip
RETRIEVAL = "retrieval only"
KEYS: List[Key] = [
    # the top-level sections
    *(
        Key(name, SECTION)
        for name in ("Global", "AMP", "Arch", "Loss", "DataLoader", "Infer", "Metric", "EMA", "RDrop")
    ),
    Key("Optimizer", Rule("sections", off=(None,), example="{}"), arguments=True),  # one optimizer, or one per network
    # Global: the keys of both engines, with the standalone engine's defaults
    Key("Global.checkpoints", WEIGHTS, None, optional=True, checkpoint=True),
    Key("Global.pretrained_model", WEIGHTS, None, optional=True, checkpoint=True),
    _global("output_dir", Rule("path", example="output/my_run"), "./output/", written_by=ALL_TOOLS),
    _global(
        "device",
        Rule("choice", choices=("cpu", "gpu", "xpu", "npu", "mlu", "ascend", "intel_gpu", "mps"), example="cpu"),
        "cpu",
    ),
    _global("save_interval", whole(1, "1"), 1),
    _global("eval_during_train", FLAG, True),
    _global("eval_interval", whole(1, "1"), 1),
    _global("epochs", whole(1, "3"), 1, schedule="epochs"),
    _global("print_batch_step", whole(1, "10"), 10),
    _global("use_visualdl", FLAG, False),
    _global("image_shape", Rule("shape", example="[3,224,224]"), [3, 224, 224]),
    _global(
        "save_inference_dir", Rule("path", example="output/my_run/inference"), "./inference", written_by=("export",)
    ),
    _global("train_mode", None, None, note="a train hook's name: the Engine looks it up and names a missing one"),
    # PaddleClas seeds with `if seed or seed == 0`: False == 0, so `seed: False` would seed with 0
    _global("seed", whole(0, "0", off=NONE_OR_FALSE), None, off_is_absent=True),
    _global("update_freq", whole(1, "1"), 1, schedule="update_freq"),
    _global("log_ranks", None, "0", note="a string of ranks ('0', '0,1')"),
    _global("start_eval_epoch", whole(0, "0"), 0),
    _global("class_num", whole(1, "10", off=(None,)), None),
    _global("use_multilabel", FLAG, False),
    _global("keep_checkpoint_max", whole(1, "2", off=(None,)), None),  # None: every epoch checkpoint is kept
    # Global: the keys only PaddleClas's Engine reads (`grep -rhoE '\["Global"\](\.get\(|\[)"[a-z_]+' ppcls`
    # in PaddleClas develop d178931)
    _global("distributed", FLAG, engine="paddleclas"),
    _global("eval_mode", engine="paddleclas", note="retrieval and classification modes, named by the Engine"),
    _global("export_for_fd", engine="paddleclas", note="export for FastDeploy, a flag read with a default"),
    _global("feature_binarize", engine="paddleclas", note=RETRIEVAL),
    _global("feature_normalize", engine="paddleclas", note=RETRIEVAL),
    _global("hpi_config_path", engine="paddleclas", note="PaddleX's high-performance inference config"),
    _global("iter_per_epoch", whole(1, "100", off=(None,)), engine="paddleclas", schedule="iter_per_epoch"),
    _global("pdx_model_name", engine="paddleclas", note="PaddleX's model name"),
    _global("print_mem_info", FLAG, engine="paddleclas"),
    _global("re_ranking", engine="paddleclas", note=RETRIEVAL),
    _global("retrieval_feature_from", engine="paddleclas", note=RETRIEVAL),
    _global("sim_block_size", engine="paddleclas", note=RETRIEVAL),
    _global("to_static", FLAG, engine="paddleclas"),
    _global("uniform_output_enabled", FLAG, engine="paddleclas"),
    _global("use_dali", FLAG, engine="paddleclas"),
    _global("warmup_iter", whole(0, "0", off=(None,)), engine="paddleclas"),
    Key("Arch.class_num", whole(1, "10")),
    # a backbone's `pretrained`: True or False (its own weights or none), or the path of weights (PaddleClas's
    # `_load_pretrained`); `**` for the networks of a distillation `Arch.models` list
    Key("Arch.**.pretrained", Rule("path", off=(None, True, False), example="False"), optional=True, checkpoint=True),
    Key("AMP.use_amp", FLAG, False),
    Key("AMP.use_fp16_test", FLAG, False),
    Key("AMP.scale_loss", number(0, "128.0", low_open=True), 1.0),
    Key("AMP.use_dynamic_loss_scaling", FLAG, False),
    Key("AMP.use_promote", FLAG, False),
    Key("AMP.level", Rule("choice", choices=("O0", "O1", "O2"), example="O1"), "O1"),
    Key("EMA.decay", None, 0.9999, note="the standalone engine's EMA decay"),
    # DataLoader: the standalone engine reads the keys with a default or `required`
    Key("DataLoader.*.dataset", SECTION, required=True, arguments=True),
    Key("DataLoader.*.sampler", SECTION, {}, arguments=True),
    Key("DataLoader.*.loader", SECTION, {}),
    Key("DataLoader.*.dataset.name", required=True, note="a dataset class, named by the engine that lacks it"),
    Key("DataLoader.*.dataset.transform_ops", None, None, note="operators, checked by their classes"),
    Key(
        "DataLoader.*.dataset.batch_transform_ops",
        None,
        None,
        optional=True,
        note="Mixup/Cutmix, checked by their classes",
    ),
    Key("DataLoader.*.dataset.delimiter", None, None, optional=True, note="the list files' delimiter"),
    Key("DataLoader.*.dataset.label_ratio", FLAG, False, optional=True),
    Key("DataLoader.*.dataset.image_root", Rule("path", off=(None, ""), example="./dataset/my_data/"), required=True),
    Key(
        "DataLoader.*.dataset.cls_label_path",
        Rule("path", off=(None,), example="./dataset/my_data/train_list.txt"),
        required=True,
    ),
    Key("DataLoader.*.dataset.relabel", optional=True, note="read by PaddleClas's datasets"),
    # the samplers PaddleClas's build_dataloader finds (ppcls/data/__init__.py in d178931) and the plugin's; the
    # seed of ClassBalancedSampler's draw (tools/data/imbalance.py: Global.seed when left out)
    Key(
        "DataLoader.*.sampler.name",
        Rule("choice", choices=SAMPLERS, example="ClassBalancedSampler"),
        "DistributedBatchSampler",
        optional=True,
        schedule="sampler",
    ),
    Key("DataLoader.*.sampler.batch_size", whole(1, "32"), required=True, schedule="batch_size"),
    Key("DataLoader.*.sampler.seed", whole(0, "0", off=(None,)), None, optional=True, off_is_absent=True),
    Key("DataLoader.*.sampler.drop_last", FLAG, False, optional=True, schedule="drop_last"),
    Key("DataLoader.*.sampler.shuffle", FLAG, False, optional=True),
    Key("DataLoader.*.loader.num_workers", whole(0, "0"), 0, optional=True),
    Key("DataLoader.*.loader.use_shared_memory", FLAG, True, optional=True),
    # the loss for imbalanced classes (core.class_weighted_ce); tools/data/imbalance.py checks the entry as a whole
    Key("Loss.*.*.ClassWeightedCELoss.weight", number(0, "1.0")),
    Key("Loss.*.*.ClassWeightedCELoss.class_weights", Rule("weights", choices=("balanced",), example="balanced")),
    Key("Loss.*.*.ClassWeightedCELoss.epsilon", number(0, "0.1", high=1, high_open=True, off=(None,)), optional=True),
    Key(
        "Loss.*.*.ClassWeightedCELoss.reduction",
        Rule("choice", choices=("mean", "sum", "none"), example="mean"),
        optional=True,
    ),
    # Optimizer: an optimizer (`Optimizer`, or `Optimizer.<i>.<name>` in PaddleClas's list) and its `lr` schedule;
    # `of` names the optimizers and schedules of the standalone engine's (tools/standalone/optim.py) that read a key
    Key("Optimizer.**.name", required=True, note="an optimizer's name, named by the engine that lacks it"),
    Key("Optimizer.**.lr.name", required=True, note="a schedule's name, named by the engine that lacks it"),
    # Piecewise's learning rate may be left out: its values, or from it 10 times lower every 30 epochs
    Key(
        "Optimizer.**.lr.learning_rate",
        number(0, "0.1", low_open=True, off=(None,)),
        None,
        required=("Cosine", "Constant"),
        schedule="learning_rate",
    ),
    Key("Optimizer.**.lr", RATE, required=True, schedule="lr", arguments=True),
    Key("Optimizer.**.lr.warmup_epoch", number(0, "5"), 0, optional=True),
    Key("Optimizer.**.lr.warmup_start_lr", number(0, "0.0"), 0.0, optional=True),
    Key("Optimizer.**.lr.eta_min", number(0, "0.0"), 0.0, optional=True, of=("Cosine",)),
    Key("Optimizer.**.lr.decay_epochs", required=("Piecewise",), note="Piecewise's epochs", of=("Piecewise",)),
    Key("Optimizer.**.lr.values", required=("Piecewise",), note="Piecewise's rates", of=("Piecewise",)),
    Key("Optimizer.**.lr.by_epoch", None, False, optional=True, note="read by PaddleClas's schedules"),
    Key("Optimizer.**.lr.last_epoch", optional=True, note="read by PaddleClas's schedules"),
    Key("Optimizer.**.momentum", number(0, "0.9", high=1, high_open=True), 0.9, of=("Momentum",)),
    Key("Optimizer.**.use_nesterov", FLAG, False, optional=True, of=("Momentum",)),
    Key("Optimizer.**.beta1", number(0, "0.9", high=1, high_open=True), 0.9, optional=True, of=("Adam", "AdamW")),
    Key("Optimizer.**.beta2", number(0, "0.999", high=1, high_open=True), 0.999, optional=True, of=("Adam", "AdamW")),
    Key("Optimizer.**.epsilon", number(0, "1e-8"), 1e-8, optional=True, of=("Adam", "AdamW")),
    # PaddleClas builds ClipGradByNorm(clip_norm) whenever the key is there: float(None) is a TypeError
    Key(
        "Optimizer.**.clip_norm", number(0, "1.0", low_open=True, off=(None,)), None, optional=True, off_is_absent=True
    ),
    Key("Optimizer.**.weight_decay", number(0, "0.05", off=(None,)), 0.01, of=("AdamW",)),
    Key("Optimizer.**.regularizer", REGULARIZER, None, arguments=True),
    Key("Optimizer.**.regularizer.name", required=True, note="L2 on the standalone engine, named there"),
    Key("Optimizer.**.regularizer.coeff", number(0, "0.0001"), required=True),
    Key("Optimizer.**.no_weight_decay_name", optional=True, note="parameter names, read by the optimizers"),
    Key("Optimizer.**.one_dim_param_no_weight_decay", optional=True, note="a flag of PaddleClas's AdamW"),
    Key("Optimizer.**.multi_precision", optional=True, note="a flag of PaddleClas's optimizers"),
    Key("Infer.batch_size", whole(1, "10"), 1),
    Key("Infer.infer_imgs", Rule("path", off=(None,), example="./dataset/my_data/images/"), required=True),
    Key("Infer.transforms", required=True, note="operators, checked by their classes"),
    Key("Infer.PostProcess", SECTION, None, arguments=True),  # Topk with topk 1 when left out
    Key(
        "Infer.PostProcess.class_id_map_file",
        Rule("path", off=(None,), example="./dataset/my_data/label_list.txt"),
        optional=True,
    ),
    Key("Infer.PostProcess.topk", whole(1, "5")),
    # RDrop: the plugin's section (its keys' rules are the core's, in adapter.settings)
    _rdrop("passes", 2, "k, the passes of every sample"),
    _rdrop("strategy", "auto", "auto | concat | shared_trunk | separate: how the k passes run (auto: cheapest exact)"),
    _rdrop("head_dropout", 0.0, "dropout rate added before the classifier", layer=True),
    _rdrop("head_layer", None, "the classifier's sublayer name (default: the model's last Linear layer)", layer=True),
    _rdrop("drop_path", 0.0, "stochastic depth rate of the last residual block (linear from 0), training only", True),
    _rdrop("drop_path_stages", [1, 2, 3, 4], "the stages (1-4) that get drop path", True),  # core.drop_path.STAGES
    _rdrop(
        "augment_per_pass", False, "each pass its own draw of the train transform_ops (a baseline: k views, CE only)"
    ),
    _rdrop("alpha_warmup_epochs", 0, "alpha rises linearly from 0 over these epochs (0: from the first step)"),
    _rdrop(
        "alpha",
        None,
        "the weight of the KL term; given, it sets the RDropLoss entry's weight (the one value trained with)",
    ),
]


def matches(pattern: Sequence[str], path: Sequence[str]) -> bool:
    """Whether the key parts `path` fit the pattern parts `pattern` (`*`: one part, `**`: any number)."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(matches(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and pattern[0] in ("*", path[0]) and matches(pattern[1:], path[1:])


def key_for(path: Sequence[str]) -> Optional[Key]:
    """The row of the key at `path` (a sequence of key parts, list indices as strings), or None."""
    parts = list(path)
    first = parts[0] if parts else None  # a row of another section is passed over before the whole match
    return next((key for key in KEYS if key.parts[0] in (first, "*", "**") and matches(key.parts, parts)), None)


def check(path: Sequence[str], value: Any) -> None:
    """Check `value` of the key at `path` (key parts) by its row's rule, if it has one; raises `ConfigError`:
    `<key> must be <what>, got <value>: set -o <key>=<example>`."""
    rule = rule_for(path)
    problem = rule.problem(value) if rule is not None else None
    if rule is not None and problem:
        key = ".".join(path)
        flag_text = rule.kind == "flag" and isinstance(value, str)
        hint = " (PaddleClas's -o reads Python's True and False)" if flag_text else ""
        raise ConfigError(f"{key} must be {problem}, got {value!r}{hint}: set -o {key}={rule.example}")


def rule_for(path: Sequence[str]) -> Optional[Rule]:
    """The type rule of the key at `path`, or None (no row, or a row that is not checked)."""
    key = key_for(path)
    return None if key is None else key.rule


def optional(parents: Sequence[str], leaf: str) -> bool:
    """Whether a recipe may leave out the key `leaf` under the section path `parents`."""
    key = key_for([*parents, leaf])
    return key is not None and key.optional


def sections() -> List[str]:
    """The top-level sections the tools know."""
    return [key.path for key in KEYS if len(key.parts) == 1]


def taken(path: str, name: Optional[str] = None) -> Tuple[Dict[str, Any], List[str]]:
    """`({key: default}, [required key])`: the keys the standalone engine reads in the section at the dotted
    `path` (`Global`, `DataLoader.Train.sampler`, `Optimizer.0.Momentum.lr`), whose `name` is `name`: the rows
    of both engines directly under it (`rows_under`) with a default or `required`."""
    rows = [key for key in rows_under(path) if key.engine == "both" and name_fits(key, name)]
    # a fresh copy of each default per call: a row's default (a list, a mapping) is never changed
    defaults = {key.parts[-1]: copy.deepcopy(key.default) for key in rows if key.default is not NO_DEFAULT}
    return defaults, [key.parts[-1] for key in rows if key.required is True or name in (key.required or ())]


def rows_under(path: str) -> List[Key]:
    """The rows of the keys directly under the section at the dotted `path`. Where several patterns fit the
    path, the one with the most named parts wins (`Optimizer.**.lr` over `Optimizer.**` for `Optimizer.lr`)."""
    parts = path.split(".")
    rows = [key for key in KEYS if len(key.parts) > 1 and matches(key.parts[:-1], parts)]
    named = max((_named_parts(key) for key in rows), default=0)
    return [key for key in rows if _named_parts(key) == named]


def name_fits(key: Key, name: Optional[str]) -> bool:
    """Whether the component `name` of a section reads `key` (a key without `of` is read by every one)."""
    return not key.of or name in key.of


def _named_parts(key: Key) -> int:
    return sum(part not in ("*", "**") for part in key.parts[:-1])


def defaults(section: str) -> Dict[str, Any]:
    """{key: default} of the keys of both engines directly under `section` (`Global`, `AMP`, `EMA`, `RDrop`)
    that have a default: what the standalone engine fills in."""
    return taken(section)[0]


# what a checkpoint's schedule record holds beyond keys: {its name: how a user names it}
STEPS = {"steps_per_epoch": "the steps per epoch"}
SCHEDULE_FACTS = {
    "processes": "the processes (paddle.distributed.launch --nproc_per_node)",
    "images": "the images of DataLoader.Train's list",
}


def schedule_names() -> Dict[str, str]:
    """{name in a checkpoint's schedule record: how a user names it (as the train sections spell it:
    `Optimizer.lr`, `DataLoader.Train.sampler.name`)}, in the order a resume's refusal names them: the
    schedule's rows, the steps per epoch (`STEPS`), then what makes them: the data's rows, `SCHEDULE_FACTS`."""
    rows = [key for key in KEYS if key.schedule]
    data = {key.schedule: key.path.replace("*", "Train") for key in rows if key.path.startswith("DataLoader.")}
    schedule = {key.schedule: key.path.replace("**.", "") for key in rows if key.schedule not in data}
    return {**schedule, **STEPS, **data, **SCHEDULE_FACTS}


def layer_keys() -> List[str]:
    """The `RDrop` keys that add or place a stochastic layer: a baseline twin's keys too (one pass, the same
    layers)."""
    return [key.parts[-1] for key in rows_under("RDrop") if key.layer]


def key_help(section: str) -> Dict[str, str]:
    """{key: what the tools' -h says of it} of the keys directly under `section` that have a help text."""
    return {key.parts[-1]: key.help for key in rows_under(section) if key.help}


def written(mode: str) -> List[str]:
    """The `Global` keys of the folders the tool of `mode` (train, eval, infer, export) writes."""
    return [key.parts[-1] for key in rows_under("Global") if mode in key.written_by]


def paddleclas_only(section: str = "Global") -> List[str]:
    """The keys directly under `section` that only PaddleClas's Engine reads."""
    return [key.parts[-1] for key in rows_under(section) if key.engine == "paddleclas"]


def unchecked() -> Dict[str, str]:
    """{path: why} of the keys whose value is not checked here."""
    return {key.path: key.note for key in KEYS if key.rule is None and len(key.parts) > 1}
