"""One table of the config values the tools and both engines read, each with its type and range, checked
before anything is built or written. A wrong value (`-o Global.epochs=two`, `Global.epochs=2.5`,
`Global.eval_interval=0`, `DataLoader.Train.sampler.batch_size=16.5`) is one `ConfigError` naming the
key, the value and a value that works, instead of a traceback from PaddleClas's or Paddle's code hours
in. Values meaning "off" are accepted where PaddleClas accepts them (`Global.seed: null`,
`Optimizer.clip_norm: null`, `Global.keep_checkpoint_max: null`).

The keys: every key of the standalone engine's tables (`standalone.keys`) and every `Global` key
PaddleClas's Engine reads that has a type, plus the data loader, optimizer and inference keys both
engines read; tests/tools/test_values.py checks the table against the standalone engine's tables and
against the `Global` keys of PaddleClas's Engine source.
"""

import dataclasses
import math
import numbers
from typing import Optional, Tuple

from ..core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Rule:
    """A value's kind (`whole`, `number`, `flag`, `choice`, `path`, `shape`), its range and its off values."""

    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False
    off: Tuple = ()
    choices: Tuple = ()
    example: str = ""

    def problem(self, value):
        """What is wrong with `value` (a phrase: "a whole number >= 1"), or None when it is right."""
        if any(value is off or (value == off and type(value) is type(off)) for off in self.off):
            return None
        wanted = self.describe()
        if self.kind == "flag":
            return None if isinstance(value, bool) else wanted
        if self.kind == "choice":
            return None if value in self.choices else wanted
        if self.kind == "path":
            return None if isinstance(value, str) and value.strip() else wanted
        if self.kind == "shape":
            good = isinstance(value, (list, tuple)) and len(value) == 3
            return None if good and all(_whole(v) and v >= 1 for v in value) else wanted
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return wanted
        if self.kind == "whole" and not _whole(value):
            return wanted
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return wanted
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return wanted
        return None

    def describe(self):
        if self.kind == "flag":
            return "True or False"
        if self.kind == "choice":
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind == "path":
            return "a path"
        if self.kind == "shape":
            return "[channels, height, width], three whole numbers >= 1"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        what = "a whole number" if self.kind == "whole" else "a number"
        return " ".join([what, " and ".join(bounds)]).strip()


def _whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def whole(low, example, off=()):
    return Rule("whole", low=low, off=off, example=example)


def number(low, example, low_open=False, high=None, high_open=False, off=()):
    return Rule("number", low=low, high=high, low_open=low_open, high_open=high_open, off=off, example=example)


FLAG = Rule("flag", example="True")
PATH = Rule("path", off=(None,), example="output/my_run")
NONE_OR_FALSE = (None, False)

# key pattern (`*`: one key or list index; `**`: any number of them) -> its rule
TABLE = {
    "Global.epochs": whole(1, "3"),
    "Global.save_interval": whole(1, "1"),
    "Global.eval_interval": whole(1, "1"),
    "Global.print_batch_step": whole(1, "10"),
    "Global.start_eval_epoch": whole(0, "0"),
    "Global.update_freq": whole(1, "1"),
    "Global.seed": whole(0, "0", off=NONE_OR_FALSE),
    "Global.class_num": whole(1, "10", off=(None,)),
    "Global.iter_per_epoch": whole(1, "100", off=(None,)),
    "Global.eval_during_train": FLAG,
    "Global.use_visualdl": FLAG,
    "Global.use_dali": FLAG,
    "Global.use_multilabel": FLAG,
    "Global.distributed": FLAG,
    "Global.warmup_iter": whole(0, "0", off=(None,)),
    "Global.to_static": FLAG,
    "Global.print_mem_info": FLAG,
    "Global.uniform_output_enabled": FLAG,
    "Global.device": Rule(
        "choice", choices=("cpu", "gpu", "xpu", "npu", "mlu", "ascend", "intel_gpu", "mps"), example="cpu"
    ),
    "Global.image_shape": Rule("shape", example="[3,224,224]"),
    "Global.output_dir": Rule("path", example="output/my_run"),
    "Global.save_inference_dir": Rule("path", example="output/my_run/inference"),
    "Global.checkpoints": PATH,
    "Global.pretrained_model": PATH,
    "Arch.class_num": whole(1, "10"),
    "AMP.use_amp": FLAG,
    "AMP.use_fp16_test": FLAG,
    "AMP.use_dynamic_loss_scaling": FLAG,
    "AMP.use_promote": FLAG,
    "AMP.scale_loss": number(0, "128.0", low_open=True),
    "AMP.level": Rule("choice", choices=("O0", "O1", "O2"), example="O1"),
    "DataLoader.*.sampler.batch_size": whole(1, "32"),
    "DataLoader.*.sampler.drop_last": FLAG,
    "DataLoader.*.sampler.shuffle": FLAG,
    "DataLoader.*.loader.num_workers": whole(0, "0"),
    "DataLoader.*.loader.use_shared_memory": FLAG,
    "Optimizer.**.lr.learning_rate": number(0, "0.1", low_open=True),
    "Optimizer.**.lr.warmup_epoch": number(0, "5"),
    "Optimizer.**.lr.warmup_start_lr": number(0, "0.0"),
    "Optimizer.**.lr.eta_min": number(0, "0.0"),
    "Optimizer.**.momentum": number(0, "0.9", high=1, high_open=True),
    "Optimizer.**.clip_norm": number(0, "1.0", low_open=True, off=(None,)),
    "Optimizer.**.weight_decay": number(0, "0.05", off=(None,)),
    "Optimizer.**.regularizer.coeff": number(0, "0.0001"),
    "Infer.batch_size": whole(1, "10"),
    "Infer.PostProcess.topk": whole(1, "5"),
}
# Global keys PaddleClas's Engine reads that the table leaves alone, and why
UNCHECKED = {
    "train_mode": "a train hook's name: the Engine looks it up and names a missing one",
    "keep_checkpoint_max": "checked by runs.checkpoints.keep_of, with its own message",
    "log_ranks": "a string of ranks ('0', '0,1')",
    "eval_mode": "retrieval and classification modes, named by the Engine",
    "retrieval_feature_from": "retrieval only",
    "feature_normalize": "retrieval only",
    "feature_binarize": "retrieval only",
    "re_ranking": "retrieval only",
    "sim_block_size": "retrieval only",
    "export_for_fd": "export for FastDeploy, a flag read with a default",
    "hpi_config_path": "PaddleX's high-performance inference config",
    "pdx_model_name": "PaddleX's model name",
}


def _matches(pattern, path):
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_matches(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and pattern[0] in ("*", path[0]) and _matches(pattern[1:], path[1:])


def _nodes(node, path=()):
    """(path, value) of every node under `node` (mappings and lists walked; list indices as strings)."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, path + (str(index),))


def rule_for(path):
    """The rule of the key at `path` (a tuple of key parts), or None."""
    for pattern, rule in TABLE.items():
        if _matches(pattern.split("."), list(path)):
            return rule
    return None


def check_values(config):
    """Check every value of `config` that `TABLE` has a rule for; raises `ConfigError` for the first wrong one:
    `<key> must be <what>, got <value>: set -o <key>=<example>`."""
    for path, value in _nodes(config):
        rule = rule_for(path) if path else None
        if rule is None:
            continue
        problem = rule.problem(value)
        if problem:
            key = ".".join(path)
            flag_text = rule.kind == "flag" and isinstance(value, str)
            hint = " (PaddleClas's -o reads Python's True and False)" if flag_text else ""
            raise ConfigError(f"{key} must be {problem}, got {value!r}{hint}: set -o {key}={rule.example}")
