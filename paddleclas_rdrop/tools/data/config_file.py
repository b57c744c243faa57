"""The one reader of config files."""

import yaml

from ...core.errors import ConfigError


def read_config(path):
    """The mapping of the YAML at `path`."""
    with open(path, "rb") as handle:
        config = yaml.safe_load(handle)
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the top level of a config is a mapping of sections")
    return config
