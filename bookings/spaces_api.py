"""Spaces in the JSON API (mounted at /api/v1/spaces by coworking/api.py): the active spaces and the
availability of one for a day. Public, like the pages; a signed-in member sees their own bookings as
"yours"."""

import datetime as dt
from typing import Literal

from django.utils import timezone
from ninja import Field, Router, Schema

from bookings import selectors as booking_selectors
from bookings.api import error_responses
from bookings.errors import BookingError
from spaces import localtime
from spaces import selectors as space_selectors
from spaces.models import Space

router = Router(tags=["spaces"])

State = Literal["free", "taken", "yours", "past", "closed"]


class SpaceOut(Schema):
    id: int
    slug: str
    name: str
    city: str
    country: str
    time_zone: str
    currency: str
    vat_rate: str = Field(description='A percentage, as a decimal string: "20.00".')
    booking_window_days: int
    cancellation_cutoff_hours: int


class DeskOut(Schema):
    id: int
    name: str
    kind: str
    morning: State
    afternoon: State


class RoomSlotOut(Schema):
    start: str = Field(description="HH:MM, local to the space.")
    end: str = Field(description="HH:MM, local to the space.")
    state: State


class RoomOut(Schema):
    id: int
    name: str
    capacity: int
    slots: list[RoomSlotOut]


class ZoneOut(Schema):
    id: int
    name: str
    desks: list[DeskOut]
    rooms: list[RoomOut]


class AvailabilityOut(Schema):
    space: SpaceOut
    date: dt.date
    is_open: bool
    opens: str | None = Field(description="HH:MM, local; null when the space does not open that weekday.")
    closes: str | None
    closure_reason: str | None = Field(description="Set (possibly empty) when the space is closed that day.")
    zones: list[ZoneOut]


def space_out(space: Space) -> dict:
    return {
        "id": space.pk,
        "slug": space.slug,
        "name": space.name,
        "city": space.city,
        "country": space.country,
        "time_zone": space.time_zone,
        "currency": space.currency,
        "vat_rate": str(space.vat_rate),
        "booking_window_days": space.booking_window_days,
        "cancellation_cutoff_hours": space.cancellation_cutoff_hours,
    }


def _hhmm(value: dt.time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _availability_out(availability: booking_selectors.DayAvailability, member_id: int | None) -> dict:
    def state(cell: booking_selectors.Cell) -> str:
        if cell.state == booking_selectors.TAKEN and member_id is not None and cell.member_id == member_id:
            return "yours"
        return cell.state

    return {
        "space": space_out(availability.space),
        "date": availability.day,
        "is_open": availability.is_open,
        "opens": _hhmm(availability.opens),
        "closes": _hhmm(availability.closes),
        "closure_reason": availability.closure_reason,
        "zones": [
            {
                "id": zone.zone_id,
                "name": zone.name,
                "desks": [
                    {
                        "id": row.resource.pk,
                        "name": row.resource.name,
                        "kind": row.resource.kind,
                        "morning": state(row.morning),
                        "afternoon": state(row.afternoon),
                    }
                    for row in zone.desks
                ],
                "rooms": [
                    {
                        "id": row.resource.pk,
                        "name": row.resource.name,
                        "capacity": row.resource.capacity,
                        "slots": [
                            {"start": _hhmm(slot.start), "end": _hhmm(slot.end), "state": state(slot.cell)}
                            for slot in row.slots
                        ],
                    }
                    for row in zone.rooms
                ],
            }
            for zone in availability.zones
        ],
    }


@router.get("", response={200: list[SpaceOut], **error_responses(401)}, summary="List the active spaces")
def list_spaces(request):
    return [space_out(space) for space in space_selectors.active_spaces()]


@router.get(
    "/{slug:slug}/availability",
    response={200: AvailabilityOut, **error_responses(401, 404, 422)},
    summary="Availability of a space for a day",
)
def space_availability(request, slug: str, date: dt.date | None = None):
    """`date` is YYYY-MM-DD, today at the space when left out. 422 `in_past` or `beyond_window` for a day
    outside [today, today + booking window]."""
    space = space_selectors.active_spaces().filter(slug=slug).first()
    if space is None:
        raise BookingError("not_found")
    now = timezone.now()
    today = localtime.local_date(now, space.tz)
    day = date or today
    if day < today:
        raise BookingError("in_past")
    if day > today + dt.timedelta(days=space.booking_window_days):
        raise BookingError("beyond_window", days=space.booking_window_days)
    availability = booking_selectors.availability_for_day(space=space, day=day, now=now)
    member_id = request.auth.pk if request.auth.is_authenticated else None
    return _availability_out(availability, member_id)
