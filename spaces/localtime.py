"""Local-day arithmetic for a space: pure functions of their inputs (no ORM, no clock, no settings).

A day at a space is [first instant of the local date, first instant of the next local date): 23, 24 or
25 hours long around DST changes. Where local midnight does not exist (zones that spring forward at
midnight, such as America/Santiago) the day starts at the first instant that does.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class NonExistentLocalTime(ValueError):
    """A wall-clock time skipped by a DST change (for example 02:30 on the last Sunday of March in Paris)."""

    def __init__(self, day: date, at: time, tz: ZoneInfo):
        self.day, self.at, self.tz = day, at, tz
        super().__init__(f"{day.isoformat()} {at.isoformat('minutes')} does not exist in {tz.key}")


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        # Aware subtraction across zones is exact only in UTC; normalise first.
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    def __contains__(self, instant: datetime) -> bool:
        # Aware datetimes sharing one tzinfo compare by wall clock, ignoring fold: compare in UTC.
        return self.start.astimezone(UTC) <= instant.astimezone(UTC) < self.end.astimezone(UTC)


def exists(day: date, at: time, tz: ZoneInfo) -> bool:
    """Whether the wall-clock time `at` on `day` exists in `tz` (false inside a spring-forward gap)."""
    naive = datetime.combine(day, at)
    round_trip = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return round_trip == naive


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware instant of a local wall-clock time, for user input: a skipped time is refused.

    An ambiguous time (the repeated hour in autumn) means its first occurrence.
    """
    if not exists(day, at, tz):
        raise NonExistentLocalTime(day, at, tz)
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0)


def _first_instant_at_or_after(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Like local_instant, but a skipped time moves to the first instant after the gap (for boundaries
    such as the start of a day whose midnight was skipped)."""
    naive = datetime.combine(day, at)
    if exists(day, at, tz):
        return naive.replace(tzinfo=tz, fold=0)
    # Inside a gap, fold=1 reads the time with the offset after the change (an instant before the
    # change) and fold=0 with the offset before it (an instant after). The change itself is the first
    # instant whose wall-clock time is not earlier than `at`: search for it to the second.
    low = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    high = int(naive.replace(tzinfo=tz, fold=0).timestamp())
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(high, tz)


# The two below run several times per booking and per availability page; they are pure and their
# results immutable, so the recent ones are kept.
@functools.lru_cache(maxsize=4096)
def day_bounds(day: date, tz: ZoneInfo) -> Interval:
    return Interval(
        _first_instant_at_or_after(day, time(0), tz),
        _first_instant_at_or_after(day + timedelta(days=1), time(0), tz),
    )


@functools.lru_cache(maxsize=4096)
def half_day_bounds(day: date, tz: ZoneInfo, split: time) -> tuple[Interval, Interval]:
    """Morning and afternoon: [day start, split) and [split, day end); together they tile the day."""
    whole = day_bounds(day, tz)
    middle = _first_instant_at_or_after(day, split, tz)
    return Interval(whole.start, middle), Interval(middle, whole.end)


def opening_window(day: date, tz: ZoneInfo, opens: time, closes: time) -> Interval:
    """The instants a space is open on `day`, given its wall-clock opening and closing times."""
    if closes <= opens:
        raise ValueError("closing time must be after opening time")
    return Interval(_first_instant_at_or_after(day, opens, tz), _first_instant_at_or_after(day, closes, tz))


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar date at a space of an aware instant ("today" when instant is now)."""
    if instant.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return instant.astimezone(tz).date()
