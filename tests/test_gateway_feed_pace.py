"""The operator feed's pace: rounds at a fixed rate (the time a round takes is not added
to the pause, which made a 1 s feed come every 1.1-1.2 s with 10,000 doctors), and no
burst of rounds after the loop was held up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realtime_gateway.server import GatewayPolicy, next_round_at


@given(
    every_s=st.floats(min_value=0.05, max_value=5.0),
    lateness=st.lists(st.floats(min_value=0.0, max_value=0.95), min_size=1, max_size=50),
)
def test_rounds_keep_the_rate_when_each_is_late_by_less_than_a_period(
    every_s: float, lateness: list[float]
) -> None:
    start_s = 1000.0
    due = start_s + every_s
    for k, late in enumerate(lateness, start=1):
        now = due + late * every_s  # the round ran (and finished) this late
        due = next_round_at(due, every_s, now)
        assert abs(due - (start_s + (k + 1) * every_s)) < 1e-6 * (k + 1)
        assert due > now


@given(
    every_s=st.floats(min_value=0.05, max_value=5.0),
    held_periods=st.floats(min_value=1.0, max_value=100.0),
)
def test_after_a_hold_up_the_next_round_is_a_period_on_not_at_once(
    every_s: float, held_periods: float
) -> None:
    due = 50.0
    now = due + held_periods * every_s
    following = next_round_at(due, every_s, now)
    assert following == now + every_s


def test_the_console_feed_comes_at_least_once_a_second() -> None:
    assert GatewayPolicy().operator_feed_every_s <= 1.0
