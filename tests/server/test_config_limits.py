"""The limit and retention variables: read once, defaults, and clear refusals."""

from __future__ import annotations

import pytest

from server.config import ConfigError, ServiceConfig


def test_defaults_and_values_are_read() -> None:
    default = ServiceConfig.from_env({})
    assert default.decision_rate_limit == "20000 per 10 seconds"
    assert default.decision_retention_days == 30
    assert default.max_body_bytes == 16 * 1024 * 1024
    config = ServiceConfig.from_env(
        {
            "CHANNEL_ROUTER_DECISION_RATE_LIMIT": "off",
            "CHANNEL_ROUTER_DECISION_RETENTION_DAYS": "7.5",
            "CHANNEL_ROUTER_PRUNE_INTERVAL_SECONDS": "60",
            "CHANNEL_ROUTER_DB_LOCK_TIMEOUT_SECONDS": "0.5",
            "CHANNEL_ROUTER_MAX_BODY_BYTES": "1048576",
            "CHANNEL_ROUTER_REDIS_PREFIX": "shop-eu",
        }
    )
    assert (config.decision_rate_limit, config.decision_retention_days) == ("off", 7.5)
    assert (config.prune_interval_seconds, config.db_lock_timeout_seconds) == (60, 0.5)
    assert (config.max_body_bytes, config.redis_prefix) == (1048576, "shop-eu")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHANNEL_ROUTER_DECISION_RATE_LIMIT", "fast"),
        ("CHANNEL_ROUTER_DECISION_RATE_LIMIT", "100 per second"),  # less than one batch
        ("CHANNEL_ROUTER_DECISION_RETENTION_DAYS", "-1"),
        ("CHANNEL_ROUTER_DECISION_RETENTION_DAYS", "thirty"),
        ("CHANNEL_ROUTER_PRUNE_INTERVAL_SECONDS", "0"),
        ("CHANNEL_ROUTER_DB_LOCK_TIMEOUT_SECONDS", "nan"),
        ("CHANNEL_ROUTER_MAX_BODY_BYTES", "1000"),
    ],
)
def test_an_unusable_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        ServiceConfig.from_env({name: value})
