"""Bookings in the JSON API (mounted at /api/v1/bookings by coworking/api.py): book, list, read and cancel
one's own bookings.

Handlers only translate between JSON and the services: every rule lives in bookings.services, so the API
refuses exactly what the pages refuse, with the same codes (bookings/errors.py). Another member's booking
is "not found", never "forbidden": a member cannot even learn that it exists.
"""

import datetime as dt
from typing import Literal

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import AwareDatetime, ConfigDict, field_validator, model_validator

from bookings import selectors, services
from bookings.errors import BookingError
from bookings.models import Booking
from members.models import User
from spaces import localtime
from spaces.models import Resource, Space

router = Router(tags=["bookings"])

MAX_ID = 2**63 - 1  # a bigint primary key
MAX_PAGE_SIZE = 100


# Errors: every error response of the API has this shape (coworking/api.py builds them).


class FieldError(Schema):
    loc: list[str | int] = Field(description='Where the error is, e.g. ["body", "resource_id"].')
    message: str
    type: str


class ErrorDetail(Schema):
    code: str = Field(description="Stable machine-readable code, e.g. slot_taken, not_found, invalid.")
    message: str = Field(description="Human-readable message in the request's language.")
    fields: list[FieldError] | None = Field(None, description="Validation details, for code invalid.")


class ErrorOut(Schema):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict:
    """The `response=` entries documenting the error statuses of an operation."""
    return {frozenset(statuses): ErrorOut}


# Bookings out.


class ResourceRef(Schema):
    id: int
    name: str
    kind: str


class SpaceRef(Schema):
    slug: str
    name: str
    time_zone: str


class BookingOut(Schema):
    id: int
    resource: ResourceRef
    space: SpaceRef
    date: dt.date = Field(description="The day at the space on which the booking starts.")
    part: Literal["full_day", "morning", "afternoon", "slot"]
    start: dt.datetime = Field(description="In the space's time zone, with its UTC offset.")
    end: dt.datetime = Field(description="In the space's time zone, with its UTC offset (exclusive).")
    status: Literal["confirmed", "cancelled"]
    cancellable: bool = Field(description="Whether the member may still cancel it (before the cut-off).")
    created_at: dt.datetime


class BookingPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[BookingOut]


def booking_out(booking: Booking, *, now: dt.datetime) -> dict:
    """A booking as the API shows it; `booking` comes with its resource and space (select_related)."""
    tz = booking.space.tz
    return {
        "id": booking.pk,
        "resource": {"id": booking.resource_id, "name": booking.resource.name, "kind": booking.resource.kind},
        "space": {
            "slug": booking.space.slug,
            "name": booking.space.name,
            "time_zone": booking.space.time_zone,
        },
        "date": booking.local_date,
        "part": booking.part,
        "start": booking.start.astimezone(tz),
        "end": booking.end.astimezone(tz),
        "status": booking.status,
        "cancellable": services.can_cancel(booking, now=now),
        "created_at": booking.created_at,
    }


# Bookings in.


class BookingIn(Schema):
    """One of three forms: a desk by `date` and `part`; a room by `date`, `start_time` and `end_time`
    (wall-clock times at the space, on the hour or half hour; an end of 00:00 means midnight); or any
    resource by two instants `start` and `end` with their UTC offsets."""

    model_config = ConfigDict(extra="forbid")

    resource_id: int = Field(ge=1, le=MAX_ID, strict=True)
    date: dt.date | None = None
    part: Literal["full_day", "morning", "afternoon"] | None = None
    start_time: dt.time | None = Field(None, description="HH:MM, local to the space.")
    end_time: dt.time | None = Field(None, description="HH:MM, local to the space.")
    start: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset.")
    end: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset.")

    @field_validator("start_time", "end_time")
    @classmethod
    def _local_time(cls, value: dt.time | None) -> dt.time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("start_time and end_time are local to the space: give no UTC offset")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> "BookingIn":
        given = {
            name
            for name in ("date", "part", "start_time", "end_time", "start", "end")
            if getattr(self, name) is not None
        }
        if given not in ({"date", "part"}, {"date", "start_time", "end_time"}, {"start", "end"}):
            raise ValueError(
                "send date and part (desks), date, start_time and end_time (rooms), or start and end"
            )
        return self


def _check_day(space: Space, day: dt.date, now: dt.datetime) -> None:
    """The service's day rules, checked before the slot is built: building it computes the day's instants,
    which cannot be done for days such as 9999-12-31 (and need not be, for a day that cannot be booked)."""
    today = localtime.local_date(now, space.tz)
    if day < today:
        raise BookingError("in_past")
    if day > today + dt.timedelta(days=space.booking_window_days):
        raise BookingError("beyond_window", days=space.booking_window_days)


def _local_day(instant: dt.datetime, space: Space) -> dt.date:
    try:
        return instant.astimezone(space.tz).date()
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise BookingError("invalid") from None


def _slot(resource: Resource, payload: BookingIn, now: dt.datetime) -> services.Slot:
    space = resource.space
    if payload.start is not None:
        _local_day(payload.end, space)
        _check_day(space, _local_day(payload.start, space), now)
        slot = services.slot_between(resource=resource, start=payload.start, end=payload.end)
        if slot.start != payload.start or slot.end != payload.end:
            # slot_between builds a room's slot from the local times of start and end: an end on a later
            # day would otherwise be read as the same time on the first day.
            raise BookingError("invalid")
        return slot
    _check_day(space, payload.date, now)
    if payload.part is not None:
        return services.desk_slot(resource=resource, day=payload.date, part=payload.part)
    return services.room_slot(
        resource=resource, day=payload.date, start_time=payload.start_time, end_time=payload.end_time
    )


def _own_booking(member: User, booking_id: int) -> Booking:
    # Scoped to the member: another member's booking does not exist for them (404, never 403).
    booking = selectors.member_bookings(member_id=member.pk).filter(pk=booking_id).first()
    if booking is None:
        raise BookingError("not_found")
    return booking


# Operations.


@router.post(
    "",
    response={201: BookingOut, **error_responses(400, 401, 403, 404, 409, 422)},
    summary="Book a desk or a room",
)
def create_booking(request, payload: BookingIn):
    """Desks: 409 `slot_taken` or `member_has_desk` on a conflict. Rooms: 422 `misaligned`, `too_short`,
    `too_long`, `outside_opening_hours`. Both: 422 `in_past`, `beyond_window`, `closed`, `wrong_part`;
    403 `profile_incomplete` until the member's profile has a name; 404 `not_found` for an unknown or
    inactive resource."""
    resource = (
        Resource.objects.select_related("space")
        .filter(pk=payload.resource_id, is_active=True, space__is_active=True)
        .first()
    )
    if resource is None:
        raise BookingError("not_found")
    now = timezone.now()
    booking = services.booking_create(member=request.auth, slot=_slot(resource, payload, now), now=now)
    return Status(201, booking_out(booking, now=now))


@router.get(
    "", response={200: BookingPage, **error_responses(401, 422)}, summary="List the member's bookings"
)
def list_bookings(
    request,
    scope: Literal["upcoming", "past", "all"] = Query(
        "upcoming",
        description="upcoming: confirmed and not over, soonest first; past: over or cancelled, newest "
        "first; all: every booking, newest first.",
    ),
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=2**31),
):
    member_id, now = request.auth.pk, timezone.now()
    bookings: QuerySet[Booking]
    if scope == "upcoming":
        bookings = selectors.upcoming_bookings(member_id=member_id, now=now).order_by("start", "pk")
    elif scope == "past":
        bookings = selectors.past_bookings(member_id=member_id, now=now).order_by("-start", "-pk")
    else:
        bookings = selectors.member_bookings(member_id=member_id).order_by("-start", "-pk")
    return {
        "count": bookings.count(),
        "limit": limit,
        "offset": offset,
        "items": [booking_out(booking, now=now) for booking in bookings[offset : offset + limit]],
    }


@router.get(
    "/{int:booking_id}", response={200: BookingOut, **error_responses(401, 404)}, summary="Read a booking"
)
def get_booking(request, booking_id: int):
    return booking_out(_own_booking(request.auth, booking_id), now=timezone.now())


@router.post(
    "/{int:booking_id}/cancel",
    response={200: BookingOut, **error_responses(401, 403, 404, 409)},
    summary="Cancel a booking",
)
def cancel_booking(request, booking_id: int):
    """409 `already_cancelled`, or `cancellation_closed` once the space's cut-off has passed."""
    booking, now = _own_booking(request.auth, booking_id), timezone.now()
    booking = services.booking_cancel(booking=booking, by=request.auth, now=now)
    return booking_out(booking, now=now)
