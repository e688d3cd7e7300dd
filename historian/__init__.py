"""The time-series store: `open_historian(site)` gives the backend the site file names."""

from __future__ import annotations

import os

from heatnet.config import InfluxHistorian as InfluxConfig
from heatnet.config import SiteConfig
from historian.base import Buckets, Historian, HistorianError, HistorianUnavailable
from historian.influx import InfluxHistorian
from historian.sqlite import SqliteHistorian

__all__ = [
    "Buckets",
    "Historian",
    "HistorianError",
    "HistorianUnavailable",
    "InfluxHistorian",
    "SqliteHistorian",
    "open_historian",
]


def open_historian(site: SiteConfig) -> Historian:
    """The site's historian; a SQLite path is relative to the site file, secrets from env."""
    config = site.historian
    if not isinstance(config, InfluxConfig):
        return SqliteHistorian(site.resolve(config.path), retention_days=config.retention_days)
    return InfluxHistorian(
        config.url,
        api=config.api,
        database=config.database,
        org=config.org,
        bucket=config.bucket,
        token=_secret(config.token_env, "token_env"),
        username=config.username,
        password=_secret(config.password_env, "password_env"),
        kinds={asset.id: kind for kind, asset in site.assets()},
    )


def _secret(variable: str | None, key: str) -> str | None:
    """A secret from the environment variable the config names; its value is never shown."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise HistorianError(f"historian.{key}: environment variable {variable} is not set")
    return value
