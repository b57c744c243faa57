"""The plugin's errors, one hierarchy: every one of them is a mistake the tools report as one line
`error: <message>` and exit code 1, never a traceback.

- `ConfigError`: a setting, a config key or an argument is wrong (the message names the key and the
  fix). The Python API raises it too, for the same rule (`RDrop(passes=1)` and `RDrop.passes: 1` in a
  YAML get the same error). Its subclasses `PassesIdentical`, `InputRefused`, `ModelFailed` and
  `UnknownBlocks` are what the core's runner and drop path find wrong with a model, as facts (the
  passes, the head, the model's own stochastic layers, the refused batch shape); the adapter words them
  in the keys of PaddleClas's YAML (`adapter.runner.worded`).
- `DataError`: what the data brings is wrong (a list file, a list line, an image, an export on disk);
  the message names the file (and line) and the fix.
- `NonFiniteLossError`: training met a NaN or Inf loss.
- `SaveError`: a checkpoint could not be written (a full disk); the ones written before are intact.
- `TrainingStopped`: a signal (SIGINT, SIGTERM) stopped training at a safe point; not a mistake.
- `Terminated`: a SIGTERM outside training, as a KeyboardInterrupt (`stop_signal` names a stop's signal).

`ConfigError` and `DataError` are `ValueError`s, so code that caught `ValueError` still does.
"""

from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, TypeGuard

if TYPE_CHECKING:
    import paddle


class RDropError(Exception):
    """Base of the plugin's errors: a message for the user, shown without a traceback.

    `told` (bool, False until set): whether this process has already printed the error's line and told it to
    the other processes of its run (the tools' multi-process stop), so that it is not printed again."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.told: bool = False


class ConfigError(RDropError, ValueError):
    """A config key, a setting or an argument is wrong; the message names it and the fix."""


class PassesIdentical(ConfigError):
    """The k passes of `net` came out identical, so the KL term is 0: `passes`, `head` (the classifier head
    dropout would go before, None if `net` has no Linear layer) and `active` (the model's own stochastic
    layers, active yet without effect in `calls` training calls in a row)."""

    def __init__(
        self, net: "paddle.nn.Layer", passes: int, head: Optional[str], active: Sequence[str] = (), calls: int = 1
    ) -> None:
        self.net, self.passes, self.head, self.active, self.calls = net, passes, head, list(active), calls
        acting = (
            f"has stochastic layers of its own ({', '.join(self.active[:3])}), which made no difference in "
            f"{calls} steps in a row"
            if active
            else "has no active stochastic layer"
        )
        super().__init__(
            f"R-Drop: the {passes} passes gave identical outputs, so the KL term is 0 and R-Drop does nothing: "
            f"{type(net).__name__} {acting}. Set RDrop.head_dropout (e.g. 0.2) with RDrop.head_layer: "
            f"{head or 'the layer that gives its logits'}"
        )


class InputRefused(ConfigError):
    """`net` refused its first training batch of `shape` with `error`, its own input check."""

    def __init__(self, net: "paddle.nn.Layer", shape: Sequence[int], error: BaseException) -> None:
        self.net, self.shape, self.error = net, list(shape), error
        super().__init__(f"{type(net).__name__} cannot take a batch of {self.shape} images ({first_line(error)})")


class ModelFailed(ConfigError):
    """`net`'s own code failed with `error` on its first training batch of `shape`."""

    def __init__(self, net: "paddle.nn.Layer", shape: Sequence[int], error: BaseException) -> None:
        self.net, self.shape, self.error = net, list(shape), error
        super().__init__(
            f"{type(net).__name__} fails on its first training batch of {self.shape} "
            f"({type(error).__name__}: {first_line(error)})"
        )


class UnknownBlocks(ConfigError):
    """Drop path does not know where the residual blocks of `net` are (`families`: the ones it knows)."""

    def __init__(self, net: "paddle.nn.Layer", families: Sequence[str]) -> None:
        self.net, self.families = net, families
        super().__init__(
            f"RDrop.drop_path: {type(net).__name__} is not a backbone drop path knows where to put; "
            f"it supports the residual blocks of {'; '.join(families)}. "
            f"Set RDrop.drop_path: 0 and use RDrop.head_dropout for this model"
        )


class DataError(RDropError, ValueError):
    """A list file, an image or an export on disk is wrong; the message names the file and the fix."""


class NonFiniteLossError(RDropError, RuntimeError):
    """Training met a NaN or Inf loss; the message names the term, the epoch and the step."""


class SaveError(RDropError, OSError):
    """A checkpoint could not be written; the message names it, and the checkpoints before it are intact."""


class TrainingStopped(RDropError):
    """A signal stopped training before a step was applied: `signal_name` (`"SIGINT"`, `"SIGTERM"`), the
    `epoch` (from 1) and the `step` (of this run) it stopped at. `line`: the one line the tools end the run
    with (what was saved, how to resume), None until they word it; `told` as `RDropError`'s."""

    def __init__(self, signal_name: str, epoch: int, step: int, line: Optional[str] = None) -> None:
        super().__init__(f"{signal_name} at epoch {epoch}, step {step}")
        self.signal_name, self.epoch, self.step = signal_name, epoch, step
        self.line: Optional[str] = line


class Terminated(KeyboardInterrupt):
    """SIGTERM as a KeyboardInterrupt (the tools' SIGTERM handler, `tools.runs.interrupts.Stops.terminate`), so that
    a tool stops on SIGTERM as on a Ctrl-C; `signal_name` says which it was."""

    signal_name = "SIGTERM"


def stop_signal(stop: BaseException) -> str:
    """The signal that a stop stands for: `"SIGTERM"` for `Terminated`, else `"SIGINT"` (a Ctrl-C's
    KeyboardInterrupt, and what a tool passes on to the tool it runs when anything else ends it)."""
    return "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"


def finite_number(value: Any) -> "TypeGuard[float]":
    """Whether `value` is a real number (not a bool) that is finite: NaN and +-Inf (YAML's `.nan`, `.inf`) are not
    numbers any setting takes, and every comparison with NaN is False, so a range check alone lets it through."""
    import math
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_rate(value: Any, key: str, what: str, usual: str) -> float:
    """`value` as a float if it is a finite number in [0, 1) (a dropout or drop-path rate); else a `ConfigError`
    naming `key`, saying `what` it is and the `usual` values."""
    # typeshed's numbers.Real declares < and <= only
    if not finite_number(value) or not 0 <= value < 1:  # type: ignore[operator]
        raise ConfigError(f"{key} must be a number in [0, 1) ({what}), got {value!r}; {usual} is usual")
    return float(value)


def closest(word: object, known: Iterable[object]) -> Optional[object]:
    """The entry of `known` closest to `word` by difflib's `get_close_matches` (ratio >= 0.6, case-insensitive),
    or None."""
    import difflib

    by_lower = {str(name).lower(): name for name in known}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def did_you_mean(word: object, known: Iterable[object]) -> str:
    """`" (did you mean `X`?)"` for the entry `X` of `known` closest to `word` (`closest`), else `""`: the hint
    of an unknown-key error."""
    close = closest(word, known)
    return f" (did you mean `{close}`?)" if close is not None else ""


def one_line(error: BaseException, limit: int = 300) -> str:
    """`TypeName: message` with the message's lines joined by spaces (OpenCV's errors give the cause on later
    lines, each after `>` or `> -`), a line repeated in a row once, at most `limit` characters. A type named in
    lower case (OpenCV's `error`) is named with its package: `cv2.error`."""
    lines: List[str] = []
    for line in str(error).splitlines():
        line = line.strip().lstrip(">- ") if lines else line.strip()
        if line and (not lines or line != lines[-1]):
            lines.append(line)
    kind = type(error).__name__
    if kind[:1].islower():
        kind = f"{type(error).__module__.split('.')[0]}.{kind}"
    text = f"{kind}: {' '.join(lines)}" if lines else kind
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), at most 200 characters."""
    text = str(error).strip()
    return (text.splitlines()[0][:200] if text else "") or type(error).__name__
