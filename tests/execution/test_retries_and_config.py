"""The retry arithmetic and the worker's configuration, for every input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.retries import RetryPolicy
from execution.worker import _schedule, worker_settings
from execution.worker_config import WorkerConfig
from server.config import ConfigError

policies = st.builds(
    RetryPolicy,
    base_seconds=st.floats(0.01, 60),
    cap_seconds=st.floats(0.01, 3600),
    retry_after_cap_seconds=st.floats(0, 3600),
    max_tries=st.integers(1, 50),
)


@given(policies, st.integers(1, 10_000), st.none() | st.floats(0, 1e9))
def test_a_retry_waits_the_backoff_or_the_hint_and_never_past_the_caps(
    policy: RetryPolicy, job_try: int, retry_after: float | None
) -> None:
    wait = policy.defer(job_try, retry_after)
    assert wait >= policy.backoff(job_try) > 0
    assert wait <= max(policy.cap_seconds, policy.retry_after_cap_seconds)
    if retry_after is not None:
        assert wait >= min(retry_after, policy.retry_after_cap_seconds)


@given(policies, st.integers(1, 60))
def test_the_backoff_grows_until_its_cap(policy: RetryPolicy, job_try: int) -> None:
    assert policy.backoff(job_try) <= policy.backoff(job_try + 1) <= policy.cap_seconds
    assert policy.exhausted(job_try) == (job_try >= policy.max_tries)


def test_the_worker_reads_its_variables() -> None:
    config = WorkerConfig.from_env(
        {
            "CHANNEL_ROUTER_WORKER_MAX_JOBS": "7",
            "CHANNEL_ROUTER_WORKER_JOB_TIMEOUT_SECONDS": "30",
            "CHANNEL_ROUTER_WORKER_SWEEP_SECONDS": "15",
            "CHANNEL_ROUTER_WORKER_SALES_SECONDS": "300",
        }
    )
    assert (config.max_jobs, config.job_timeout_seconds) == (7, 30.0)
    assert config.sweep_every_seconds == 15 and config.sales_every_seconds == 300
    assert config.step_budget_seconds == 25.0
    assert WorkerConfig.from_env({}) == WorkerConfig()
    # A killed worker's job is taken again after the timeout + 10 s: under a minute.
    assert WorkerConfig().job_timeout_seconds + 10 < 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHANNEL_ROUTER_WORKER_SWEEP_SECONDS", "7"),
        ("CHANNEL_ROUTER_WORKER_SALES_SECONDS", "90"),
        ("CHANNEL_ROUTER_WORKER_JOB_TIMEOUT_SECONDS", "5"),
        ("CHANNEL_ROUTER_WORKER_MAX_TRIES", "many"),
        ("CHANNEL_ROUTER_WORKER_RETRY_MAX_SECONDS", "inf"),
    ],
)
def test_a_bad_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        WorkerConfig.from_env({name: value})


@pytest.mark.parametrize("every", [1, 2, 5, 15, 30, 60, 120, 600])
def test_a_schedule_ticks_every_interval(every: int) -> None:
    fields = _schedule(every)
    if every < 60:
        assert len(fields["second"]) == 60 // every
    else:
        assert fields["second"] == 0 and len(fields["minute"]) == 3600 // every


def test_a_killed_workers_job_is_taken_up_again_within_a_minute() -> None:
    """arq locks a running job for its longest function timeout + 10 s; a worker killed
    mid-job leaves the lock to expire, then the next poll of any worker takes the job."""
    from arq.worker import create_worker

    from execution import queue
    from server.config import ServiceConfig

    service = ServiceConfig(redis_url="redis://127.0.0.1:1/0", redis_prefix="p")
    settings = worker_settings(service, WorkerConfig())
    worker = create_worker(settings)
    assert worker.in_progress_timeout_s + worker.poll_delay_s < 60
    assert worker.queue_name == queue.queue_name("p")
    assert worker.job_serializer is queue.serialize
    names = set(worker.functions)
    assert {queue.START_JOB, queue.LIST_JOB, queue.END_JOB} <= names
    schedules = {"refresh_listings", "pull_sales", "end_overdue", "resume_stalled"}
    assert {f"p:{name}" for name in schedules} <= names
    assert "p:prune_decisions" in names
