"""A config value's type rule (`Rule`): its kind, range and off values, and the phrase that names what it takes.
The schema (`schema.KEYS`) gives each key one."""

import dataclasses
import numbers
from typing import Any, Optional, Tuple

from ..core.errors import finite_number


@dataclasses.dataclass(frozen=True)
class Rule:
    """A value's kind (`whole`, `number`, `flag`, `choice`, `path`, `shape`, `weights`: one of `choices` or a list
    of weights; `section`: a mapping of keys; `sections`: one, or a list of one-key mappings; `rate`: a number
    in the range or a section), its range and its off values."""

    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False
    off: Tuple = ()
    choices: Tuple = ()
    example: str = ""

    def is_off(self, value: Any) -> bool:
        """Whether `value` is one of the rule's off values (of the same type: False is not 0)."""
        return any(value is off or (value == off and type(value) is type(off)) for off in self.off)

    def problem(self, value: Any) -> Optional[str]:
        """What is wrong with `value` (a phrase: "a whole number >= 1"), or None when it is right."""
        if self.is_off(value):
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
        if self.kind == "weights":
            return None if value in self.choices or _weights(value) else wanted
        if self.kind in ("section", "sections", "rate") and isinstance(value, dict):
            return None
        if self.kind in ("section", "sections"):
            listed = self.kind == "sections" and isinstance(value, list)
            return None if listed and all(isinstance(v, dict) and len(v) == 1 for v in value) else wanted
        if not finite_number(value):
            return wanted
        if self.kind == "whole" and not _whole(value):
            return wanted
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return wanted
        # typeshed's numbers.Real declares < and <= only
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):  # type: ignore[operator]
            return wanted
        return None

    def describe(self) -> str:
        """The values the rule takes, as a phrase."""
        if self.kind == "flag":
            return "True or False"
        if self.kind == "choice":
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind == "path":
            return "a path"
        if self.kind == "shape":
            return "[channels, height, width], three whole numbers >= 1"
        if self.kind == "weights":
            return f"{' or '.join(self.choices)} or a list of one number >= 0 per class, not all 0"
        if self.kind == "section":
            return "a section of keys (key: value lines below it)"
        if self.kind == "sections":
            return "a section of keys, or a list of one-key sections (- Name: {...})"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        what = "a whole number" if self.kind == "whole" else "a number"
        phrase = " ".join([what, " and ".join(bounds)]).strip()
        return f"{phrase} or a schedule's section (name: Cosine, ...)" if self.kind == "rate" else phrase


def _whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _weights(value):
    """Whether `value` is a non-empty list of finite numbers >= 0, not all 0."""
    numbers_only = isinstance(value, (list, tuple)) and all(finite_number(v) and v >= 0 for v in value)
    return numbers_only and any(v > 0 for v in value)


def whole(low: float, example: str, off: Tuple = ()) -> Rule:
    return Rule("whole", low=low, off=off, example=example)


def number(
    low: float,
    example: str,
    low_open: bool = False,
    high: Optional[float] = None,
    high_open: bool = False,
    off: Tuple = (),
) -> Rule:
    return Rule("number", low=low, high=high, low_open=low_open, high_open=high_open, off=off, example=example)


FLAG = Rule("flag", example="True")
PATH = Rule("path", off=(None,), example="output/my_run")
WEIGHTS = Rule("path", off=(None,), example="output/my_run/best_model")
NONE_OR_FALSE = (None, False)

SECTION = Rule("section", off=(None,), example="{}")
RATE = Rule("rate", low=0, low_open=True, example="0.1")  # a learning rate, or its schedule's section
REGULARIZER = Rule("section", off=(None,), example="{'name': 'L2', 'coeff': 0.0001}")
