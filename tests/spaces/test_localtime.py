"""Local-day arithmetic across DST changes, in the zones the product serves and two far away."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces import localtime

ZONES = [
    ZoneInfo(name) for name in ("Europe/Paris", "Europe/Brussels", "Australia/Sydney", "America/Santiago")
]
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31))
zones = st.sampled_from(ZONES)
splits = st.times(min_value=time(9, 0), max_value=time(16, 0)).map(
    lambda t: t.replace(second=0, microsecond=0)
)
HOUR = timedelta(hours=1)


@given(day=days, tz=zones)
def test_a_day_ends_where_the_next_one_starts(day, tz):
    assert localtime.day_bounds(day, tz).end == localtime.day_bounds(day + timedelta(days=1), tz).start


@given(day=days, tz=zones)
def test_a_day_lasts_23_24_or_25_hours(day, tz):
    assert localtime.day_bounds(day, tz).duration in {23 * HOUR, 24 * HOUR, 25 * HOUR}


@given(day=days, tz=zones)
def test_a_day_starts_at_local_midnight_or_the_first_instant_of_its_date(day, tz):
    start = localtime.day_bounds(day, tz).start
    assert start.astimezone(tz).date() == day
    if localtime.exists(day, time(0), tz):
        assert start.astimezone(tz).time() == time(0)
    # Nothing earlier belongs to the same date.
    assert (start.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz).date() < day


@given(day=days, tz=zones, split=splits)
def test_half_days_tile_the_day(day, tz, split):
    morning, afternoon = localtime.half_day_bounds(day, tz, split)
    whole = localtime.day_bounds(day, tz)
    assert morning.start == whole.start
    assert morning.end == afternoon.start
    assert afternoon.end == whole.end
    assert morning.duration + afternoon.duration == whole.duration


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Paris", date(2026, 3, 29), 23),
        ("Europe/Paris", date(2026, 10, 25), 25),
        ("Europe/Brussels", date(2026, 3, 29), 23),
        ("Australia/Sydney", date(2026, 10, 4), 23),
        ("Australia/Sydney", date(2026, 4, 5), 25),
        ("America/Santiago", date(2026, 9, 6), 23),
        ("Europe/Paris", date(2026, 6, 15), 24),
    ],
)
def test_known_dst_days_have_their_real_length(zone, day, hours):
    assert localtime.day_bounds(day, ZoneInfo(zone)).duration == hours * HOUR


def test_santiago_day_without_midnight_starts_at_one():
    # Chile springs forward at 24:00: 2026-09-06 00:00 never happens, the day starts at 01:00.
    start = localtime.day_bounds(date(2026, 9, 6), ZoneInfo("America/Santiago")).start
    assert start.astimezone(ZoneInfo("America/Santiago")).time() == time(1, 0)


def test_a_skipped_local_time_is_refused():
    with pytest.raises(localtime.NonExistentLocalTime, match="does not exist in Europe/Paris"):
        localtime.local_instant(date(2026, 3, 29), time(2, 30), ZoneInfo("Europe/Paris"))


def test_an_ambiguous_local_time_means_its_first_occurrence():
    instant = localtime.local_instant(date(2026, 10, 25), time(2, 30), ZoneInfo("Europe/Paris"))
    assert instant.utcoffset() == timedelta(hours=2)


def test_opening_window_on_a_dst_day_keeps_wall_clock_hours():
    window = localtime.opening_window(date(2026, 3, 29), ZoneInfo("Europe/Paris"), time(1, 0), time(4, 0))
    # 01:00 to 04:00 on the night clocks jump from 02:00 to 03:00 is two real hours.
    assert window.duration == 2 * HOUR


def test_a_boundary_inside_a_gap_moves_to_the_end_of_the_gap():
    window = localtime.opening_window(date(2026, 3, 29), ZoneInfo("Europe/Paris"), time(2, 30), time(18, 0))
    assert window.start.astimezone(ZoneInfo("Europe/Paris")).time() == time(3, 0)


def test_interval_membership_compares_instants_not_wall_clocks():
    tz = ZoneInfo("Europe/Paris")
    day = localtime.day_bounds(date(2026, 10, 25), tz)
    second_two_thirty = localtime.local_instant(date(2026, 10, 25), time(2, 30), tz).replace(fold=1)
    assert second_two_thirty in day
    assert day.end not in day


@given(
    instant=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2037, 1, 1), timezones=st.just(UTC)
    ),
    tz=zones,
)
def test_local_date_is_inside_its_own_day(instant, tz):
    day = localtime.local_date(instant, tz)
    assert instant in localtime.day_bounds(day, tz)


def test_local_date_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        localtime.local_date(datetime(2026, 1, 1), ZoneInfo("Europe/Paris"))
