"""The campaign pages' wording and cursor, for all inputs: a cursor comes back as the row it
was made from, anything else is refused with ValueError (never another error), and every
timeline row reads as words, whatever step a future job records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from execution.states import STATUSES, EndState, new_campaign
from execution.store import CampaignRecord, TimelineEntry
from server.console import campaign_words as words

IDS = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")
TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def _record(campaign_id: str, created_at: datetime) -> CampaignRecord:
    return CampaignRecord(
        campaign_id=campaign_id,
        merchant_id="m",
        state=new_campaign("9.99", created_at, {"ebay": 1}),
        request={},
        decision={},
        skus={},
        product_id="p",
        variant_id="",
        version=0,
        created_at=created_at,
        updated_at=created_at,
    )


@given(IDS, TIMES, ZONES)
def test_a_cursor_gives_back_the_row_it_was_made_from(
    campaign_id: str, at: datetime, zone: timezone
) -> None:
    value = words.cursor(_record(campaign_id, at.astimezone(zone)))
    assert value.isascii() and "=" not in value and "&" not in value
    assert words.parse_cursor(value) == (at, campaign_id)


def test_a_naive_time_read_back_from_sqlite_counts_as_utc() -> None:
    at = datetime(2026, 12, 3, 17, 0, 1, 5)
    assert words.parse_cursor(words.cursor(_record("c", at))) == (at.replace(tzinfo=UTC), "c")


@given(st.text(max_size=500))
def test_anything_else_is_refused_as_a_cursor(value: str) -> None:
    try:
        at, campaign_id = words.parse_cursor(value)
    except ValueError:
        return
    assert at.tzinfo is not None and isinstance(campaign_id, str)


@given(
    step=st.text(max_size=40),
    outcome=st.sampled_from(["started", "ok", "retry", "failed", "skipped", "info", "odd"]),
    channel=st.one_of(st.none(), st.sampled_from(["ebay", "amazon", "etsy"])),
    attempt=st.integers(1, 50),
)
def test_every_timeline_row_reads_as_words(
    step: str, outcome: str, channel: str | None, attempt: int
) -> None:
    entry = TimelineEntry(
        at=datetime(2026, 1, 1, tzinfo=UTC),
        step=step,
        outcome=outcome,
        attempt=attempt,
        channel=channel,
    )
    line = words.timeline_line(entry)
    assert line.words.strip() and line.words == line.words.strip()
    if step.replace("-", "_") not in words.STEP_WORDS:
        assert line.words.startswith(words.spelled(step))
    if channel:
        assert words.label(channel) in line.words
    assert (f"(attempt {attempt})" in line.words) == (attempt > 1)


def test_known_steps_are_told_in_plain_words() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cases = {
        ("store-price", "ok", None, 1): "Setting the store price: done",
        ("list", "retry", "ebay", 1): "Listing on eBay: did not work, will try again",
        (
            "withdraw",
            "failed",
            "amazon",
            3,
        ): "Withdrawing the listing on Amazon: failed (attempt 3)",
        ("revert-price", "ok", None, 1): "Putting the store price back: done",
        ("sales", "ok", "ebay", 1): "Fetching sales from eBay: done",
        ("end", "started", None, 1): "Ending the campaign: started",
        ("start_campaign", "retry", None, 2): "Starting the campaign: did not work, will try "
        "again (attempt 2)",
        ("some-new-step", "info", "etsy", 1): "Some new step (etsy)",
    }
    for (step, outcome, channel, attempt), expected in cases.items():
        entry = TimelineEntry(at=at, step=step, outcome=outcome, attempt=attempt, channel=channel)
        assert words.timeline_line(entry).words == expected


@given(st.sampled_from(STATUSES), st.one_of(st.none(), st.sampled_from(["scheduled", "cancelled"])))
def test_a_campaign_asked_to_end_says_so_until_it_has(status: str, reason: str | None) -> None:
    from msgspec.structs import replace

    at = datetime(2026, 1, 1, tzinfo=UTC)
    state = replace(new_campaign("1.00", at, {}), status=status)
    if reason is not None:
        state = replace(state, end=EndState(reason=reason, requested_at=at))  # type: ignore[arg-type]
    shown = words.status_words(state)
    if reason is not None and not state.final:
        assert shown == ("Cancelling" if reason == "cancelled" else "Ending")
        assert not words.cancellable(state)
    else:
        assert shown == words.STATUS_WORDS[status]
        assert words.cancellable(state) == (not state.final)


def test_the_status_filter_takes_only_statuses() -> None:
    assert words.parse_status("") is None
    assert [words.parse_status(s) for s in STATUSES] == list(STATUSES)
    for wrong in ("Active", "active ", "all", "<b>"):
        try:
            words.parse_status(wrong)
        except ValueError:
            continue
        raise AssertionError(wrong)
