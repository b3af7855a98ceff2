"""How the campaign worker paces itself: job timeout, retries and cron intervals
(docs/configuration.md, "Campaign worker"; docs/execution.md, "Jobs and the worker").

Read once from the environment by `channel-router worker`; tests build it directly with
short intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.config import ConfigError

_PREFIX = "CHANNEL_ROUTER_"


def _number(env: Mapping[str, str], suffix: str, default: float, minimum: float) -> float:
    name = _PREFIX + suffix
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):
        raise ConfigError(f"{name}={raw!r} must be a finite number >= {minimum:g}")
    return value


def _every(env: Mapping[str, str], suffix: str, default: int) -> int:
    """A cron interval in seconds: 1 to 60 seconds dividing 60, or whole minutes."""
    value = int(_number(env, suffix, default, 1))
    if (value < 60 and 60 % value) or (value >= 60 and value % 60):
        raise ConfigError(f"{_PREFIX + suffix}={value} must divide 60 (1-30 s) or be whole minutes")
    return value


@dataclass(frozen=True)
class WorkerConfig:
    """The worker's knobs. A killed worker's job is taken up again after
    `job_timeout_seconds + 10` (arq's in-progress lock), so the default of 40 s keeps that
    under a minute; every step gives up its calls 5 s before the job timeout and retries."""

    max_jobs: int = 20
    job_timeout_seconds: float = 40.0
    max_tries: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 120.0
    retry_after_max_seconds: float = 900.0
    refresh_every_seconds: int = 60
    sales_every_seconds: int = 120
    sweep_every_seconds: int = 60
    drift_every_seconds: int = 300
    sweep_grace_seconds: float = 30.0
    stall_seconds: float = 300.0
    health_check_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerConfig:
        """Read the CHANNEL_ROUTER_WORKER_* variables; unset ones keep the defaults."""
        d = cls()
        return cls(
            max_jobs=int(_number(env, "WORKER_MAX_JOBS", d.max_jobs, 1)),
            job_timeout_seconds=_number(
                env, "WORKER_JOB_TIMEOUT_SECONDS", d.job_timeout_seconds, 10
            ),
            max_tries=int(_number(env, "WORKER_MAX_TRIES", d.max_tries, 1)),
            retry_base_seconds=_number(
                env, "WORKER_RETRY_BASE_SECONDS", d.retry_base_seconds, 0.01
            ),
            retry_max_seconds=_number(env, "WORKER_RETRY_MAX_SECONDS", d.retry_max_seconds, 0.01),
            retry_after_max_seconds=_number(
                env, "WORKER_RETRY_AFTER_MAX_SECONDS", d.retry_after_max_seconds, 0
            ),
            refresh_every_seconds=_every(env, "WORKER_REFRESH_SECONDS", d.refresh_every_seconds),
            sales_every_seconds=_every(env, "WORKER_SALES_SECONDS", d.sales_every_seconds),
            sweep_every_seconds=_every(env, "WORKER_SWEEP_SECONDS", d.sweep_every_seconds),
            drift_every_seconds=_every(env, "WORKER_DRIFT_SECONDS", d.drift_every_seconds),
            sweep_grace_seconds=_number(
                env, "WORKER_SWEEP_GRACE_SECONDS", d.sweep_grace_seconds, 0
            ),
            stall_seconds=_number(env, "WORKER_STALL_SECONDS", d.stall_seconds, 1),
            health_check_seconds=_number(
                env, "WORKER_HEALTH_CHECK_SECONDS", d.health_check_seconds, 1
            ),
        )

    @property
    def step_budget_seconds(self) -> float:
        """How long one job's marketplace calls may take before the job retries instead."""
        return max(1.0, self.job_timeout_seconds - 5.0)
