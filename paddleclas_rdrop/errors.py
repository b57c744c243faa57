"""The one error type a user sees for an R-Drop setup mistake."""


class RDropConfigError(ValueError):
    """A setting makes R-Drop wrong or impossible; the message names the key and the fix."""
