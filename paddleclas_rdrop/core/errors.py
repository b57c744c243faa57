"""The plugin's errors, one hierarchy: every one of them is a mistake the tools report as one line
`error: <message>` and exit code 1, never a traceback.

- `ConfigError`: a setting, a config key or an argument is wrong (the message names the key and the
  fix). The Python API raises it too, for the same rule (`RDrop(passes=1)` and `RDrop.passes: 1` in a
  YAML get the same error).
- `DataError`: what the data brings is wrong (a list file, a list line, an image, an export on disk);
  the message names the file (and line) and the fix.
- `NonFiniteLossError`: training met a NaN or Inf loss.
- `SaveError`: a checkpoint could not be written (a full disk); the ones written before are intact.
- `TrainingStopped`: a signal (SIGINT, SIGTERM) stopped training at a safe point; not a mistake.

`ConfigError` and `DataError` are `ValueError`s, so code that caught `ValueError` still does.
"""

import contextlib


class RDropError(Exception):
    """Base of the plugin's errors: a message for the user, shown without a traceback."""


class ConfigError(RDropError, ValueError):
    """A config key, a setting or an argument is wrong; the message names it and the fix."""


RDropConfigError = ConfigError  # the name R-Drop's settings were first published under: one type


class DataError(RDropError, ValueError):
    """A list file, an image or an export on disk is wrong; the message names the file and the fix."""


class NonFiniteLossError(RDropError, RuntimeError):
    """Training met a NaN or Inf loss; the message names the term, the epoch and the step."""


class SaveError(RDropError, OSError):
    """A checkpoint could not be written; the message names it, and the checkpoints before it are intact."""


class TrainingStopped(RDropError):
    """A signal stopped training before a step was applied: `signal_name`, `epoch`, `step`."""

    def __init__(self, signal_name, epoch, step):
        super().__init__(f"{signal_name} at epoch {epoch}, step {step}")
        self.signal_name, self.epoch, self.step = signal_name, epoch, step


def check_rate(value, key, what, usual):
    """`value` as a float if it is a number in [0, 1) (a dropout or drop-path rate); else a `ConfigError`
    naming `key`, saying `what` it is and the `usual` values."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"{key} must be a number in [0, 1) ({what}), got {value!r}; {usual} is usual")
    return float(value)


def did_you_mean(word, known):
    """`" (did you mean `X`?)"` for the entry `X` of `known` closest to `word` (difflib's ratio >= 0.6,
    case-insensitive), else `""`: the hint of an unknown-key error."""
    import difflib

    by_lower = {str(name).lower(): name for name in known}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1)
    return f" (did you mean `{by_lower[close[0]]}`?)" if close else ""


def first_line(error):
    """The first line of an exception's message (its type's name if it has none), at most 200 characters."""
    text = str(error).strip()
    return (text.splitlines()[0][:200] if text else "") or type(error).__name__


@contextlib.contextmanager
def building(name, section="Arch"):
    """Around a PaddleClas model constructor: what it raises for an argument it does not take or lacks
    (`TypeError`, `KeyError`, `AttributeError`, `ValueError`, `AssertionError`), and a failed download of
    its `pretrained` weights (PaddleClas's `RuntimeError`), becomes one `ConfigError` naming `section` and
    the model `name`."""
    try:
        yield
    except RDropError:
        raise
    except RuntimeError as error:  # PaddleClas's download of Arch.pretrained weights
        import re

        download = re.search(r"Download from (\S+) failed", str(error))
        if not download:
            raise
        raise ConfigError(
            f"{section}.pretrained: {name!r} downloads its weights from {download.group(1)}, which failed here: "
            f"download that file where there is a network and set -o Global.pretrained_model=<its path without "
            f".pdparams> -o {section}.pretrained=False, or set {section}.pretrained=False to start from random weights"
        ) from None
    except KeyError as error:
        key = error.args[0] if error.args else None
        if not isinstance(key, str) or not key.isidentifier() or key == name:  # a table of PaddleClas's own
            raise ConfigError(f"{section}: PaddleClas's code cannot build {name!r} (KeyError: {key!r})") from None
        raise ConfigError(f"{section}: cannot build {name!r}: it needs the key {section}.{key}") from None
    except (TypeError, AttributeError, ValueError, AssertionError) as error:
        import re

        twice = re.search(r"got multiple values for (?:keyword )?argument '(\w+)'", str(error))
        if twice:
            key = f"{section}.{twice.group(1)}"
            raise ConfigError(f"{section}: cannot build {name!r}: {name} sets {key} itself: remove {key}") from None
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unexpected and unexpected.group(1) == "class_num":
            raise ConfigError(
                f"{section}: cannot build {name!r}: it takes no {section}.class_num, so it gives features, not the "
                f"class logits R-Drop compares (PaddleClas trains it inside RecModel); use a classifier backbone"
            ) from None
        if unexpected:
            key = f"{section}.{unexpected.group(1)}"
            raise ConfigError(f"{section}: cannot build {name!r}: it takes no {key}") from None
        raise ConfigError(f"{section}: cannot build {name!r}: {first_line(error)}") from None
