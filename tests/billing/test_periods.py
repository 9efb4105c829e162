"""Pass periods as local dates at the space: anchored months and years, and their instants."""

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import periods
from billing.periods import Period

anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
ZONES = [
    ZoneInfo(name) for name in ("Europe/Paris", "Europe/Brussels", "America/Santiago", "Australia/Lord_Howe")
]
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def month_offset(anchor: date, months: int) -> tuple[int, int]:
    year, month = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    return year, month + 1


def assert_anchored(anchor: date, start: date, months: int) -> None:
    year, month = month_offset(anchor, months)
    assert (start.year, start.month) == (year, month)
    assert start.day == min(anchor.day, calendar.monthrange(year, month)[1])


@given(anchor=anchors, months=st.integers(min_value=-1200, max_value=1200))
def test_add_months_keeps_the_anchor_day_or_the_last_day_of_a_shorter_month(anchor, months):
    assert_anchored(anchor, periods.add_months_anchored(anchor, months), months)


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 1, 30), 13, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
    ],
)
def test_add_months_examples(anchor, months, expected):
    assert periods.add_months_anchored(anchor, months) == expected


@given(anchor=anchors)
def test_36_monthly_periods_tile_and_stay_anchored(anchor):
    run = [periods.monthly_period(anchor, k) for k in range(36)]
    assert run[0].start == anchor
    for k, period in enumerate(run):
        assert period.index == k
        assert_anchored(anchor, period.start, k)
        assert 28 <= period.days <= 31
    for period, following in itertools.pairwise(run):
        assert period.end + DAY == following.start


@given(anchor=anchors)
def test_36_annual_periods_tile_and_stay_anchored(anchor):
    run = [periods.annual_period(anchor, k) for k in range(36)]
    assert run[0].start == anchor
    for k, period in enumerate(run):
        assert_anchored(anchor, period.start, 12 * k)
        assert period.days in {365, 366}
    for period, following in itertools.pairwise(run):
        assert period.end + DAY == following.start


def test_a_31st_anchor_falls_back_in_february_and_returns_in_march():
    run = [periods.monthly_period(date(2026, 1, 31), k) for k in range(4)]
    assert [(p.start, p.end) for p in run] == [
        (date(2026, 1, 31), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 3, 30)),
        (date(2026, 3, 31), date(2026, 4, 29)),
        (date(2026, 4, 30), date(2026, 5, 30)),
    ]


def test_a_period_starting_on_d_ends_the_day_before_d_next_month():
    assert periods.monthly_period(date(2026, 3, 15), 0) == Period(0, date(2026, 3, 15), date(2026, 4, 14))
    assert periods.annual_period(date(2026, 3, 15), 1) == Period(1, date(2027, 3, 15), date(2028, 3, 14))


def test_a_29_february_annual_anchor_returns_in_leap_years():
    run = [periods.annual_period(date(2024, 2, 29), k) for k in range(5)]
    assert [p.start for p in run] == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]
    assert run[0].end == date(2025, 2, 27)
    assert run[3].end == date(2028, 2, 28)


def test_period_indexes_are_not_negative():
    with pytest.raises(ValueError, match="index"):
        periods.monthly_period(date(2026, 1, 1), -1)


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    months=st.sampled_from([1, 3, 12]),
    offset=st.integers(min_value=0, max_value=6 * 366),
)
def test_period_containing_agrees_with_a_scan(anchor, months, offset):
    day = anchor + timedelta(days=offset)
    found = periods.period_containing(months, anchor, day)
    scanned = next(
        p for p in (periods.anchored_period(anchor, months, k) for k in itertools.count()) if day <= p.end
    )
    assert found == scanned
    assert day in found


def test_period_containing_far_days():
    found = periods.period_containing(1, date(2000, 1, 31), date(2099, 2, 28))
    assert found == Period(1189, date(2099, 2, 28), date(2099, 3, 30))


def test_period_containing_refuses_days_before_the_anchor():
    with pytest.raises(ValueError, match="before"):
        periods.period_containing(1, date(2026, 5, 10), date(2026, 5, 9))


def test_a_period_knows_its_days():
    period = Period(0, date(2026, 2, 1), date(2026, 2, 28))
    assert period.days == 28
    assert date(2026, 2, 1) in period
    assert date(2026, 2, 28) in period
    assert date(2026, 3, 1) not in period
    assert date(2026, 1, 31) not in period


def test_a_period_is_made_of_dates_not_instants():
    period = Period(0, date(2026, 2, 1), date(2026, 2, 28))
    with pytest.raises(TypeError, match="local_date"):
        datetime(2026, 2, 3, 12, tzinfo=UTC) in period  # noqa: B015
    with pytest.raises(ValueError, match="end"):
        Period(0, date(2026, 2, 2), date(2026, 2, 1))
    with pytest.raises(TypeError):
        Period(0, datetime(2026, 2, 1), date(2026, 2, 28))


# ---------------------------------------------------------------- day passes, packs, renewals


def weekdays(day: date) -> bool:
    return day.weekday() < 5


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (date(2026, 5, 14), date(2026, 5, 15)),  # Thursday -> Friday
        (date(2026, 5, 15), date(2026, 5, 18)),  # Friday -> Monday
        (date(2026, 5, 16), date(2026, 5, 18)),  # Saturday -> Monday
    ],
)
def test_next_open_day_skips_closed_days(after, expected):
    assert periods.next_open_day(after, weekdays) == expected


def test_next_open_day_gives_up_after_the_limit():
    assert periods.next_open_day(date(2026, 5, 14), lambda day: False) is None
    far = date(2026, 6, 1)
    assert periods.next_open_day(date(2026, 5, 14), lambda day: day >= far, limit_days=10) is None
    assert periods.next_open_day(date(2026, 5, 14), lambda day: day >= far, limit_days=18) == far
    with pytest.raises(ValueError, match="limit"):
        periods.next_open_day(date(2026, 5, 14), weekdays, limit_days=0)


def test_a_rolling_day_period_is_one_day():
    period = periods.rolling_day_period(date(2026, 5, 15), index=3)
    assert period == Period(3, date(2026, 5, 15), date(2026, 5, 15))
    assert period.days == 1


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 15), 6, date(2026, 7, 14)),
        (date(2026, 8, 31), 6, date(2027, 2, 27)),
        (date(2026, 1, 15), 12, date(2027, 1, 14)),
    ],
)
def test_a_pack_is_valid_for_some_months_from_purchase(start, months, end):
    assert periods.pack_validity(start, months) == Period(0, start, end)


def test_a_pack_is_valid_six_months_by_default():
    assert periods.pack_validity(date(2026, 1, 15)).end == date(2026, 7, 14)
    with pytest.raises(ValueError, match="month"):
        periods.pack_validity(date(2026, 1, 15), 0)


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 5, 27), False),
        (date(2026, 5, 28), True),  # three days before the end
        (date(2026, 5, 31), True),
        (date(2026, 6, 3), True),  # a missed run catches up
    ],
)
def test_renewal_is_due_from_lead_days_before_the_end(today, due):
    assert periods.renewal_due(date(2026, 5, 31), 3, today) is due


def test_renewal_lead_days_are_not_negative():
    assert periods.renewal_due(date(2026, 5, 31), 0, date(2026, 5, 31))
    with pytest.raises(ValueError, match="lead"):
        periods.renewal_due(date(2026, 5, 31), -1, date(2026, 5, 31))


# ---------------------------------------------------------------- instants at the edge


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    tz=st.sampled_from(ZONES),
    months=st.sampled_from([1, 12]),
)
def test_instants_of_consecutive_periods_tile(anchor, tz, months):
    run = [periods.period_instants(periods.anchored_period(anchor, months, k), tz) for k in range(13)]
    for (_, end), (start, _) in itertools.pairwise(run):
        assert end == start
    for period_start, period_end in run:
        assert period_start.tzinfo is not None
        assert period_end > period_start


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    tz=st.sampled_from(ZONES),
    index=st.integers(min_value=0, max_value=24),
)
def test_period_instants_cover_exactly_its_local_dates(anchor, tz, index):
    period = periods.monthly_period(anchor, index)
    start, end = periods.period_instants(period, tz)
    assert start.astimezone(tz).date() == period.start
    assert (start.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz).date() < period.start
    assert (end.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz).date() == period.end
    assert end.astimezone(tz).date() == period.end + DAY


def duration(instants: tuple[datetime, datetime]) -> timedelta:
    return instants[1].astimezone(UTC) - instants[0].astimezone(UTC)


@pytest.mark.parametrize(
    ("zone", "start", "shift"),
    [
        ("Europe/Paris", date(2026, 3, 1), -HOUR),
        ("Europe/Paris", date(2026, 3, 15), -HOUR),
        ("Europe/Paris", date(2026, 10, 10), HOUR),
        ("Europe/Paris", date(2026, 6, 1), timedelta(0)),
        ("Europe/Brussels", date(2026, 3, 29), -HOUR),
        ("Australia/Lord_Howe", date(2026, 10, 1), -HOUR / 2),
        ("Australia/Lord_Howe", date(2026, 4, 1), HOUR / 2),
    ],
)
def test_a_month_across_a_dst_change_is_shorter_or_longer(zone, start, shift):
    period = periods.monthly_period(start, 0)
    assert duration(periods.period_instants(period, ZoneInfo(zone))) == period.days * 24 * HOUR + shift


def test_a_period_starting_on_a_day_without_midnight_starts_at_its_first_instant():
    # Chile springs forward at midnight: 6 September 2026 starts at 01:00.
    santiago = ZoneInfo("America/Santiago")
    start, _ = periods.period_instants(periods.monthly_period(date(2026, 9, 6), 0), santiago)
    assert start.astimezone(santiago).replace(tzinfo=None) == datetime(2026, 9, 6, 1, 0)
    _, end = periods.period_instants(periods.monthly_period(date(2026, 8, 6), 0), santiago)
    assert end == start
    assert (start.astimezone(UTC) - timedelta(seconds=1)).astimezone(santiago).time() == time(23, 59, 59)
