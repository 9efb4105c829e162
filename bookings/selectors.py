"""Reads on bookings: the availability of a space for a day and a member's bookings. Each runs a fixed
number of queries, whatever the number of resources or bookings."""

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.cache import cache
from django.db.models import QuerySet

from bookings.availability_cache import setup_version
from bookings.models import Booking, BookingStatus
from bookings.page_cache import LocalLRU
from spaces import localtime
from spaces import selectors as space_selectors
from spaces.models import DESK_KINDS, Resource, ResourceKind, Space
from spaces.prepared import PreparedQuery

FREE, TAKEN, PAST, CLOSED = "free", "taken", "past", "closed"
SETUP_TIMEOUT = 3600
# What is cached under a setup version never changes under that version (a change makes a new one), so
# each process keeps the entries it read, and the booking path reads from the shared cache only the version.
setup_entries = LocalLRU(1024)


@dataclass
class Cell:
    state: str
    booking_id: int | None = None
    member_id: int | None = None


@dataclass(frozen=True)
class ResourceRef:
    """What the grid shows of a resource: read as plain values, since building ~650 model instances
    (resources and their zones) cost more than the rest of a cold availability page."""

    pk: int
    name: str
    kind: str
    capacity: int

    @property
    def is_desk(self) -> bool:
        return self.kind in DESK_KINDS


@dataclass
class DeskRow:
    resource: ResourceRef
    morning: Cell
    afternoon: Cell

    @property
    def full_day_free(self) -> bool:
        return self.morning.state == FREE and self.afternoon.state == FREE


@dataclass
class RoomSlot:
    start: time
    end: time
    cell: Cell


@dataclass
class RoomRow:
    resource: ResourceRef
    slots: list[RoomSlot]


@dataclass
class ZoneDay:
    zone_id: int
    name: str
    desks: list[DeskRow] = field(default_factory=list)
    rooms: list[RoomRow] = field(default_factory=list)

    @property
    def free_hot_desks(self) -> int:
        return sum(
            1 for row in self.desks if row.resource.kind == ResourceKind.HOT_DESK and row.full_day_free
        )


@dataclass
class DayAvailability:
    space: Space
    day: date
    opens: time | None
    closes: time | None
    closure_reason: str | None
    zones: list[ZoneDay]

    @property
    def is_open(self) -> bool:
        return self.opens is not None and self.closure_reason is None


def _state(
    start: datetime, end: datetime, now: datetime, bookings: list[tuple[int, int, datetime, datetime]]
) -> Cell:
    for pk, member_id, booking_start, booking_end in bookings:
        if booking_start < end and booking_end > start:
            return Cell(TAKEN, pk, member_id)
    if end <= now:
        return Cell(PAST)
    return Cell(FREE)


def _day_bookings(*, space_id: int, eve: date, day: date, start: datetime, end: datetime) -> QuerySet:
    return (
        Booking.objects.active()
        .filter(space_id=space_id, local_date__range=(eve, day))
        .overlapping(start, end)
        .values_list("pk", "resource_id", "member_id", "start", "end")
    )


# The first page after every booking runs it: its SQL is built once (spaces.prepared).
_DAY_BOOKINGS = PreparedQuery(_day_bookings, space_id=int, eve=date, day=date, start=datetime, end=datetime)


def availability_for_day(*, space: Space, day: date, now: datetime) -> DayAvailability:
    """Every active resource of the space, grouped by zone, with its state for the day (five queries)."""
    tz = space.tz
    schedule, resource_rows = day_setup(space, day)
    availability = DayAvailability(
        space=space,
        day=day,
        opens=schedule.opens,
        closes=schedule.closes,
        closure_reason=schedule.closure_reason,
        zones=[],
    )
    bounds = space.day_bounds(day)
    by_resource: dict[int, list[tuple[int, int, datetime, datetime]]] = {}
    # Every booking lies within the local day it starts on, so those overlapping `day` started on it
    # (or, for a room booked until midnight, the day before): the (space, local_date) index narrows the
    # scan to them, whatever the size of the space's history.
    for pk, resource_id, member_id, start, end in _DAY_BOOKINGS.fetch(
        space_id=space.pk, eve=day - timedelta(days=1), day=day, start=bounds.start, end=bounds.end
    ):
        by_resource.setdefault(resource_id, []).append((pk, member_id, start, end))

    morning, afternoon = space.half_day_bounds(day)
    window = schedule.window
    room_slots = _room_slots(day, tz, window) if window else []
    # Most resources hold no booking that day: their cells are the same, computed once.
    empty_desk = (
        (_state(morning.start, morning.end, now, []), _state(afternoon.start, afternoon.end, now, []))
        if availability.is_open
        else (Cell(CLOSED), Cell(CLOSED))
    )
    empty_room: list[RoomSlot] | None = None
    zones: dict[int, ZoneDay] = {}
    for pk, name, kind, capacity, zone_id, zone_name in resource_rows:
        resource = ResourceRef(pk, name, kind, capacity)
        zone = zones.get(zone_id)
        if zone is None:
            zone = zones[zone_id] = ZoneDay(zone_id, zone_name)
        held = by_resource.get(pk)
        if resource.is_desk:
            if held and availability.is_open:
                row = DeskRow(
                    resource,
                    _state(morning.start, morning.end, now, held),
                    _state(afternoon.start, afternoon.end, now, held),
                )
            else:
                row = DeskRow(resource, *empty_desk)
            zone.desks.append(row)
        else:
            if held:
                slots = _room_row(room_slots, tz, now, held)
            else:
                slots = empty_room = empty_room or _room_row(room_slots, tz, now, [])
            zone.rooms.append(RoomRow(resource, slots))
    availability.zones = list(zones.values())
    return availability


def _room_row(room_slots, tz, now, held) -> list[RoomSlot]:
    return [
        RoomSlot(start.astimezone(tz).time(), end.astimezone(tz).time(), _state(start, end, now, held))
        for start, end in room_slots
    ]


def day_setup(space: Space, day: date):
    """The day's schedule and the space's active resources (as value rows, in grid order), cached
    under the space's setup version: a booking does not change them, so the first page after a
    booking reads only that day's bookings."""
    version = setup_version(space.pk)
    key = f"availability:setup:{space.pk}:{version}:{day.isoformat()}"
    cached = setup_entries.get(key)
    if cached is None:
        cached = cache.get(key)
        if cached is not None:
            setup_entries.put(key, cached)
    if cached is not None:
        opens, closes, closure_reason, rows = cached
        return space_selectors.DaySchedule(space, day, opens, closes, closure_reason), rows
    schedule = space_selectors.day_schedule(space=space, day=day)
    rows = list(
        Resource.objects.filter(space=space, is_active=True)
        .order_by("zone__position", "zone__name", "position", "name")
        .values_list("pk", "name", "kind", "capacity", "zone_id", "zone__name")
    )
    cache.set(key, (schedule.opens, schedule.closes, schedule.closure_reason, rows), SETUP_TIMEOUT)
    return schedule, rows


def resource_of_space(space: Space, resource_id: int) -> Resource | None:
    """One of the space's resources, active or not, with the space attached; None if it has no such
    resource. Cached under the space's setup version, which every change to a resource bumps: a booking
    POST then reads no resource row."""
    key = f"availability:resource:{space.pk}:{setup_version(space.pk)}:{resource_id}"
    resource = setup_entries.get(key)
    if resource is None:
        resource = cache.get(key)
        if resource is None:
            resource = Resource.objects.filter(pk=resource_id, space=space).order_by().first()
            if resource is None:
                return None
            cache.set(key, resource, SETUP_TIMEOUT)  # before the space is attached: it is not stored with it
        setup_entries.put(key, resource)
    resource = copy.copy(resource)  # the process's entry stays as stored; this request's copy gets its space
    resource.space = space
    return resource


def _room_slots(day: date, tz, window: localtime.Interval) -> list[tuple[datetime, datetime]]:
    """Hourly slots from the opening time (a last, shorter one if the space closes on a half hour)."""
    slots = []
    start, close = window.start.astimezone(UTC), window.end.astimezone(UTC)  # real hours, even on DST days
    while start < close:
        end = min(start + timedelta(hours=1), close)
        slots.append((start, end))
        start = end
    return slots


def member_bookings(*, member_id: int) -> QuerySet[Booking]:
    return Booking.objects.filter(member_id=member_id).select_related("resource", "space")


def upcoming_bookings(*, member_id: int, now: datetime) -> QuerySet[Booking]:
    return (
        member_bookings(member_id=member_id)
        .filter(status=BookingStatus.CONFIRMED, end__gt=now)
        .order_by("start")
    )


def past_bookings(*, member_id: int, now: datetime) -> QuerySet[Booking]:
    """Finished or cancelled bookings, newest first."""
    from django.db.models import Q

    return (
        member_bookings(member_id=member_id)
        .filter(Q(end__lte=now) | Q(status=BookingStatus.CANCELLED))
        .order_by("-start")
    )


def member_booking_ids_on(*, member_id: int, space: Space, day: date) -> set[int]:
    bounds = space.day_bounds(day)
    return set(
        Booking.objects.filter(
            member_id=member_id,
            space=space,
            status=BookingStatus.CONFIRMED,
            local_date__range=(day - timedelta(days=1), day),
        )
        .overlapping(bounds.start, bounds.end)
        .values_list("pk", flat=True)
    )


def members_present(*, space_id: int, days: list[date]) -> dict[date, list[int]]:
    """The users holding a confirmed booking at the space on each day (by the local day the booking
    starts), in the order they are expected: "who is in today", read by the community through
    coworking's wiring."""
    present: dict[date, list[int]] = {day: [] for day in days}
    rows = (
        Booking.objects.filter(space_id=space_id, local_date__in=days, status=BookingStatus.CONFIRMED)
        .order_by("local_date", "start", "pk")
        .values_list("local_date", "member_id")
    )
    for day, member_id in rows:
        if member_id not in present[day]:
            present[day].append(member_id)
    return present
