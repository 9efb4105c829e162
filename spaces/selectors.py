"""Reads of spaces for pages and other apps. Each returns what a page needs in a fixed number of queries."""

from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby

from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet

from spaces import localtime
from spaces.models import Closure, OpeningHours, Resource, ResourceKind, Space, Weekday, Zone


def active_spaces() -> QuerySet[Space]:
    return Space.objects.filter(is_active=True)


SPACE_CACHE_TIMEOUT = 300


def space_cache_key(slug: str) -> str:
    return f"spaces:active-by-slug:{slug}"


def active_space_by_slug(slug: str) -> Space | None:
    """The active space with this slug, from the cache when it can (the hottest pages start with it).

    Saving or deleting a space removes its entries (spaces.signals), so an edit shows at once; the
    timeout only bounds the life of entries that a bulk update() would have missed.
    """
    key = space_cache_key(slug)
    space = cache.get(key)
    if space is None:
        space = active_spaces().filter(slug=slug).first()
        if space is not None:
            cache.set(key, space, SPACE_CACHE_TIMEOUT)
    return space


def spaces_by_city() -> list[tuple[str, list[Space]]]:
    """Active spaces grouped by city, with their desk and room counts (one query)."""
    spaces = active_spaces().annotate(
        desk_count=Count(
            "resources",
            filter=Q(
                resources__is_active=True,
                resources__kind__in=[ResourceKind.HOT_DESK, ResourceKind.DEDICATED_DESK],
            ),
        ),
        room_count=Count(
            "resources",
            filter=Q(resources__is_active=True, resources__kind=ResourceKind.MEETING_ROOM),
        ),
    )
    return [
        (city, list(group)) for city, group in groupby(spaces.order_by("city", "name"), key=lambda s: s.city)
    ]


@dataclass
class DayHours:
    weekday: int
    label: str
    opens: time | None
    closes: time | None

    @property
    def is_open(self) -> bool:
        return self.opens is not None


@dataclass
class SpacePage:
    space: Space
    week: list[DayHours]
    zones: list[Zone]
    upcoming_closures: list[Closure] = field(default_factory=list)


def week_hours(hours: list[OpeningHours]) -> list[DayHours]:
    by_day = {h.weekday: h for h in hours}
    return [
        DayHours(
            day.value,
            day.label,
            getattr(by_day.get(day.value), "opens", None),
            getattr(by_day.get(day.value), "closes", None),
        )
        for day in Weekday
    ]


def space_page(*, slug: str, now: datetime) -> SpacePage | None:
    """Everything the public page of a space shows, in five queries whatever the number of resources."""
    space = active_spaces().filter(slug=slug).first()
    if space is None:
        return None
    today = localtime.local_date(now, space.tz)
    zones = list(
        space.zones.prefetch_related(
            Prefetch(
                "resources",
                queryset=Resource.objects.filter(is_active=True).order_by("position", "name"),
            )
        )
    )
    return SpacePage(
        space=space,
        week=week_hours(list(space.opening_hours.all())),
        zones=[zone for zone in zones if zone.resources.all()],
        upcoming_closures=list(space.closures.filter(end_date__gte=today).order_by("start_date")[:5]),
    )


@dataclass(frozen=True)
class DaySchedule:
    """When a space opens on one day: its weekly hours, unless a closure covers the day."""

    space: Space
    day: date
    opens: time | None
    closes: time | None
    closure_reason: str | None  # None: no closure; "" a closure without a reason

    @property
    def is_open(self) -> bool:
        return self.opens is not None and self.closure_reason is None

    @property
    def window(self) -> localtime.Interval | None:
        if not self.is_open:
            return None
        return localtime.opening_window(self.day, self.space.tz, self.opens, self.closes)


def day_schedule(*, space: Space, day: date) -> DaySchedule:
    """The one place that decides whether and when a space is open on a day (two queries)."""
    hours = space.opening_hours.filter(weekday=day.weekday()).first()
    closure = space.closures.filter(start_date__lte=day, end_date__gte=day).first()
    return DaySchedule(
        space=space,
        day=day,
        opens=hours.opens if hours else None,
        closes=hours.closes if hours else None,
        closure_reason=(closure.reason or "") if closure else None,
    )


def opening_window_on(space: Space, day: date) -> localtime.Interval | None:
    """When the space is open on `day`, or None if it is closed (weekly hours or a closure)."""
    return day_schedule(space=space, day=day).window
