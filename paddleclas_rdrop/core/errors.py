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
- `PathError`: the file system refused a file or folder (a name too long, a file where a folder must be, no
  permission); `naming_paths` turns an `OSError` into one, naming the option or config key it came from.
- `TrainingStopped`: a signal (SIGINT, SIGTERM) stopped training at a safe point; not a mistake.
- `Terminated`: a SIGTERM outside training, as a KeyboardInterrupt (`stop_signal` names a stop's signal).

`ConfigError` and `DataError` are `ValueError`s, so code that caught `ValueError` still does.
"""

import contextlib
import errno
import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Mapping, Optional, Sequence, TypeGuard

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


TRACEBACK = "PADDLECLAS_RDROP_TRACEBACK"  # set to 1: the tools show an error's traceback instead of its line

FIXES = {  # the fix of an OSError's errno, for `PathError`
    errno.ENAMETOOLONG: "give a shorter path (a name in it is over the file system's limit, 255 bytes on most)",
    errno.ENOENT: "give a path that exists",
    errno.EACCES: "give a place this user may use, or change its permissions",
    errno.EPERM: "give a place this user may use, or change its permissions",
    errno.EROFS: "give a folder on a file system that can be written",
    errno.ENOSPC: "free some space, or give a folder on another disk",
    errno.EDQUOT: "free some space, or give a folder on another disk",
    errno.EISDIR: "give the path of a file, not of a folder",
    errno.ENOTDIR: "give a path elsewhere, or move that file away",
    errno.EEXIST: "give a path elsewhere, or move that file away",
}


class PathError(RDropError, OSError):
    """The file system refused a file or folder: `error` (an `OSError` with its `filename`) as one line naming the
    file, the OS's reason and the fix, after the option or config `key` it came from and that key's `value`
    (where known; `naming_paths`)."""

    def __init__(self, error: OSError, key: Optional[str] = None, value: Optional[str] = None) -> None:
        self.error, self.key, self.value = error, key, value
        super().__init__(path_message(error, key, value))


def path_message(error: OSError, key: Optional[str] = None, value: Optional[str] = None) -> str:
    """`<key> <value>: <file>: <the OS's reason>: <fix>` of `error`, an OSError with a `filename` (the file left out
    where it is `value`; `key` and `value` left out where None). A file where a folder must be is named."""
    path = os.fsdecode(error.filename)
    reason = error.strerror or type(error).__name__
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = path
        while blocker and not os.path.lexists(blocker):
            blocker = os.path.dirname(blocker.rstrip("/"))
        if blocker and not os.path.isdir(blocker):
            what = "a file is there" if blocker == path.rstrip("/") else f"{blocker} is a file"
            reason = f"{what}, not a folder ({reason})"
    where = path if key is None else f"{key} {value}" + ("" if same_path(path, value) else f": {path}")
    fix = FIXES.get(error.errno or 0)
    return f"{where}: {reason}" + (f": {fix}" if fix else "")


def same_path(one: Any, other: Any) -> bool:
    """Whether two paths name one place (their absolute, normalised forms are equal)."""
    return other is not None and os.path.abspath(os.fsdecode(one)) == os.path.abspath(os.fsdecode(other))


def traceback_wanted() -> bool:
    """Whether the user asked for tracebacks instead of one-line errors (`PADDLECLAS_RDROP_TRACEBACK=1`)."""
    return os.environ.get(TRACEBACK) == "1"


def key_of_path(filename: Any, paths: Mapping[str, Any]) -> Optional[str]:
    """The key of `paths` ({option or config key: path}) that `filename` comes from: the key whose path is
    `filename` or holds it (the nearest), else one whose path is under `filename` (a folder that could not be
    made on the way to it); None if none is."""
    target = os.path.abspath(os.fsdecode(filename))
    best, depth = None, -1
    for key, value in paths.items():
        if not isinstance(value, (str, bytes, os.PathLike)) or not os.fspath(value):
            continue
        place = os.path.abspath(os.fsdecode(value))
        if target == place or target.startswith(place.rstrip(os.sep) + os.sep):
            if len(place) > depth:
                best, depth = key, len(place)
        elif best is None and place.startswith(target.rstrip(os.sep) + os.sep):
            best = key
    return best


def error_line(error: BaseException) -> Optional[str]:
    """The one line `error: ...` a tool ends with when `error` reaches its top: an `RDropError`'s message, an
    `OSError`'s with a filename (`path_message`); None for any other error, and for every error with
    `PADDLECLAS_RDROP_TRACEBACK=1` (a traceback then)."""
    if traceback_wanted():
        return None
    if isinstance(error, RDropError):
        return f"error: {error}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"error: {path_message(error)}"
    return None


@contextlib.contextmanager
def naming_paths(paths: Mapping[str, Any]) -> Iterator[None]:
    """Within the context, an `OSError` with a filename that comes from one of `paths` ({option or config key: its
    path}, `key_of_path`) is raised as a `PathError` naming that key and path; other errors pass as they are, and
    so does every error with `PADDLECLAS_RDROP_TRACEBACK=1`."""
    try:
        yield
    except OSError as error:
        key = None if isinstance(error, RDropError) or error.filename is None else key_of_path(error.filename, paths)
        if key is None or traceback_wanted():
            raise
        raise PathError(error, key, os.fsdecode(paths[key])) from error


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
