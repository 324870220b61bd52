"""The configuration file (docs/contract.md, Configuration): TOML in, frozen dataclasses out.

Split by job: ``schema.py`` (the dataclasses and every default),
``keys.py`` (each key's type, bounds and parser), ``table.py`` (typed access
to one TOML table), ``reader.py`` (``load_config``: rules across keys,
computed defaults, one-line errors) and ``writer.py`` (TOML out, for the
demo and the tests). Import from here: ``from nodekeeper.core.config import
load_config, Config``.
"""

from __future__ import annotations

# Imported here by name before the package was split; kept importable.
from nodekeeper.core import paths
from nodekeeper.core.config.reader import config_from_dict, load_config
from nodekeeper.core.config.schema import (
    DAY,
    DEFAULT_INSTANCE,
    DEFAULT_UPDATE_SOURCE,
    DEFAULT_UPDATE_URLS,
    MIN_LOG_FILE_SIZE,
    MIN_MEMORY_MAX,
    SECTIONS,
    STOP_SIGNALS,
    UPDATE_SOURCES,
    Config,
    GiB,
    LimitsConfig,
    LogsConfig,
    MetricsConfig,
    MiB,
    NodeConfig,
    NotifyConfig,
    PathsConfig,
    UpdatesConfig,
)
from nodekeeper.core.config.writer import config_to_dict, config_to_toml, to_toml
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.units import format_size, parse_duration, parse_size

__all__ = [
    "DAY",
    "DEFAULT_INSTANCE",
    "DEFAULT_UPDATE_SOURCE",
    "DEFAULT_UPDATE_URLS",
    "MIN_LOG_FILE_SIZE",
    "MIN_MEMORY_MAX",
    "SECTIONS",
    "STOP_SIGNALS",
    "UPDATE_SOURCES",
    "Config",
    "ConfigError",
    "GiB",
    "LimitsConfig",
    "LogsConfig",
    "MetricsConfig",
    "MiB",
    "NodeConfig",
    "NotifyConfig",
    "PathsConfig",
    "UpdatesConfig",
    "config_from_dict",
    "config_to_dict",
    "config_to_toml",
    "format_size",
    "load_config",
    "parse_duration",
    "parse_size",
    "paths",
    "to_toml",
]
