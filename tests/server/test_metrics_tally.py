"""Tallied request metrics read exactly as observed ones.

In one process, `Metrics.observe_request` tallies counts and latency buckets in
plain numbers and adds them to prometheus-client's children when /metrics
renders (server.metrics). Whatever the requests, the exposition must be the
one prometheus-client gives when every request is observed as it happens (the
way several workers write them), up to the last digits of the latency sum.
"""

from __future__ import annotations

import math
import re
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from server.metrics import _BUCKETS, Metrics

LATENCIES = st.one_of(
    st.sampled_from([0.0, *_BUCKETS, *(b * 1.0000001 for b in _BUCKETS), 1e6]),
    st.floats(0, 20, allow_nan=False),
)
REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(["/health", "/v1/decide"]),
        st.sampled_from([200, 404, 422, 499, 500]),
        LATENCIES,
    ),
    max_size=200,
)
_CREATED = re.compile(r"^(\w+_created\{[^}]*\}) \S+$")
_SUM = re.compile(r"^(\w+_sum\{[^}]*\}) (\S+)$")


def _lines(text: bytes) -> tuple[list[str], dict[str, float]]:
    """The exposition without creation times, and the sums apart."""
    lines, sums = [], {}
    for line in text.decode().splitlines():
        if created := _CREATED.match(line):
            lines.append(created.group(1))
        elif total := _SUM.match(line):
            sums[total.group(1)] = float(total.group(2))
        else:
            lines.append(line)
    return lines, sums


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(REQUESTS, min_size=1, max_size=3))
def test_tallied_requests_render_as_observed_ones(
    batches: list[list[tuple[str, str, int, float]]],
) -> None:
    tallied = Metrics()
    with tempfile.TemporaryDirectory() as folder:
        observed = Metrics(folder)  # as with several workers: every request written through
    for batch in batches:  # renders in between: a tally is added once, then starts again
        for method, route, status, seconds in batch:
            tallied.observe_request(method, route, status, seconds)
            observed.observe_request(method, route, status, seconds)
        got, got_sums = _lines(tallied.render())
        want, want_sums = _lines(generate_latest(observed.registry))
        assert got == want
        assert got_sums.keys() == want_sums.keys()
        for name, value in want_sums.items():
            assert math.isclose(got_sums[name], value, rel_tol=1e-9, abs_tol=1e-12), name
