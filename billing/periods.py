"""Pass periods: runs of local dates at a space, computed from the pass's anchor date.

Pure module (standard library and the pure `spaces.localtime`): no ORM, no clock, no settings. A period
is a range of LOCAL DATES at the space, start and end inclusive, because that is what a member buys
("from 31 January to 27 February") and what stays true whatever the server's zone or a DST change.
Instants appear only at the edge (`period_instants`), for queries against stored timestamps.

Period rule (DESIGN.md, passes): a period starting on day D ends the day before D in the next month (or
year); an anchor on the 29th-31st falls back to the last day of shorter months and returns to the anchor
afterwards. Every period is computed from the anchor and its index, never from the previous period, so
a short February can never drag later periods to the 28th.
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from spaces.localtime import day_bounds

_DAY = timedelta(days=1)


def _require_date(value: object, name: str) -> date:
    # datetime is a subclass of date: an instant passed for a date is a bug (which zone's date?).
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a local date, not {type(value).__name__}; use localtime.local_date")
    return value


def add_months_anchored(anchor: date, months: int) -> date:
    """The anchor's day of the month `months` later (or earlier), clamped to that month's last day.

    31 January + 1 month is 28 (or 29) February and + 2 months is 31 March again, because the day is
    always taken from the anchor, not from an intermediate result.
    """
    _require_date(anchor, "anchor")
    year, month_index = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    """The `index`-th period of a pass (0 = the first one), from `start` to `end`, both included."""

    index: int
    start: date
    end: date

    def __post_init__(self) -> None:
        _require_date(self.start, "start")
        _require_date(self.end, "end")
        if self.end < self.start:
            raise ValueError(f"a period's end ({self.end}) cannot be before its start ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return self.start <= _require_date(day, "day") <= self.end


def anchored_period(anchor: date, months: int, index: int) -> Period:
    """The `index`-th period of `months` months from `anchor`: monthly (1), quarterly (3), annual (12)."""
    if months < 1:
        raise ValueError(f"a period lasts at least one month, got {months}")
    if index < 0:
        raise ValueError(f"period index must not be negative, got {index}")
    start = add_months_anchored(anchor, months * index)
    return Period(index, start, add_months_anchored(anchor, months * (index + 1)) - _DAY)


def monthly_period(anchor: date, index: int) -> Period:
    return anchored_period(anchor, 1, index)


def annual_period(anchor: date, index: int) -> Period:
    """Anchored on 29 February, periods start on 28 February in common years and 29 in leap years."""
    return anchored_period(anchor, 12, index)


def period_containing(kind_months: int, anchor: date, day: date) -> Period:
    """The period of a pass anchored on `anchor` that contains `day`, in constant time.

    The period whose start month is the last multiple of `kind_months` at or before `day`'s month
    starts on or before `day` unless it starts later in that same month; then the previous one holds it.
    The next one always starts after `day`'s month, so one step back is the only correction needed.
    """
    _require_date(day, "day")
    if kind_months < 1:
        raise ValueError(f"a period lasts at least one month, got {kind_months}")
    if day < anchor:
        raise ValueError(f"{day} is before the pass's anchor {anchor}")
    months_apart = (day.year - anchor.year) * 12 + day.month - anchor.month
    period = anchored_period(anchor, kind_months, months_apart // kind_months)
    if day < period.start:
        period = anchored_period(anchor, kind_months, period.index - 1)
    if day not in period:  # pragma: no cover - impossible by the argument above; fail loudly if wrong
        raise RuntimeError(f"no period found for {day} from {anchor}")
    return period


def next_open_day(after: date, is_open: Callable[[date], bool], *, limit_days: int = 366) -> date | None:
    """The first day strictly after `after` on which `is_open` says the space opens, for the rolling day
    pass (which renews one open day at a time); None when none opens within `limit_days` days, so a
    space closed for good cannot make a renewal loop forever."""
    _require_date(after, "after")
    if limit_days < 1:
        raise ValueError(f"limit_days must be at least 1, got {limit_days}")
    for offset in range(1, limit_days + 1):
        candidate = after + timedelta(days=offset)
        if is_open(candidate):
            return candidate
    return None


def rolling_day_period(day: date, index: int = 0) -> Period:
    """A rolling day pass's period: the single open day it covers (`index`: its rank in the run)."""
    return Period(index, day, day)


def pack_validity(start: date, months: int = 6) -> Period:
    """How long a 10-day pack bought on `start` can be used: `months` months, by the same anchored rule
    as passes (bought 31 August, six months run to 27 February)."""
    if months < 1:
        raise ValueError(f"a pack is valid for at least one month, got {months}")
    return anchored_period(start, months, 0)


def period_instants(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant of the start day, first instant of the day after the end) at the space.

    Aware datetimes in `tz`. Consecutive periods share their boundary instant, so they tile time with
    neither gap nor overlap, across DST changes (a March month is an hour short in Paris) and in zones
    where local midnight is skipped (the day then starts at its first existing instant).
    """
    return day_bounds(period.start, tz).start, day_bounds(period.end, tz).end


def renewal_due(period_end: date, lead_days: int, today: date) -> bool:
    """Whether the renewal of the period ending on `period_end` is due on the local date `today`.

    Due from `lead_days` days before the end and for ever after: jobs catch up on missed runs, and the
    unique key of the renewal (pass, period start) is what makes a second attempt a no-op.
    """
    _require_date(period_end, "period_end")
    _require_date(today, "today")
    if lead_days < 0:
        raise ValueError(f"lead days must not be negative, got {lead_days}")
    return today >= period_end - timedelta(days=lead_days)
