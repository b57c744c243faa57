"""The errors the tools report as one clear line, never a traceback: a configuration mistake, and a
training run stopped by a non-finite loss."""


class ConfigError(ValueError):
    """A config key or file is wrong; the message names it and the fix."""


class RDropConfigError(ConfigError):
    """A setting makes R-Drop wrong or impossible; the message names the key and the fix."""


class NonFiniteLossError(RuntimeError):
    """Training met a NaN or Inf loss; the message names the term, the epoch and the step."""
