"""Config schema and loader: dataclasses per section, YAML files, `section.key=value` overrides."""

from medvlp.config.loader import ConfigError, load_config, merge, parse_overrides, save_config, to_dict
from medvlp.config.schema import Config, RunConfig, SynthConfig

__all__ = [
    "Config",
    "ConfigError",
    "RunConfig",
    "SynthConfig",
    "load_config",
    "merge",
    "parse_overrides",
    "save_config",
    "to_dict",
]
