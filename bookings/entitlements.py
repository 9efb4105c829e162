"""The one place where the booking service asks billing whether a member may hold a resource, and tells
it what a booking took or gave back. billing never imports bookings: a booking is "booking:<id>" there.

- A hot desk needs a pass covering the day or a day credit (drawn on booking, returned on cancellation),
  unless the space lets members book desks freely (Space.desks_need_pass off).
- A dedicated desk needs a plan with dedicated desks.
- A meeting room is charged per hour, less the hours the member's plans include that period.
- A member with a suspended pass (unpaid after the grace period) makes no new bookings.
"""

from datetime import date, datetime

from django.utils.translation import gettext as _

from billing import selectors as billing_selectors
from billing import services as billing_services
from bookings.errors import BookingError
from members.models import Member, User
from spaces.models import Resource, ResourceKind

# BillingError codes that are booking refusals, with the booking code they become.
REFUSALS = {
    "not_entitled": "not_entitled",
    "dedicated_plan_needed": "dedicated_plan_needed",
    "suspended": "suspended",
}


def _resource_kind(resource: Resource) -> str:
    if resource.kind in (ResourceKind.HOT_DESK, ResourceKind.DEDICATED_DESK):
        return resource.kind
    return "room"


def check(*, member: Member, resource: Resource, day: date) -> billing_selectors.DeskDecision | None:
    """The early check, before the booking transaction: a clear refusal without taking any lock. The
    booking transaction draws the credit it found, checking again under lock (entitlement_consume)."""
    if not member.is_complete:
        raise BookingError("profile_incomplete")
    kind = _resource_kind(resource)
    if kind == "room":
        if billing_selectors.is_suspended(member_id=member.user_id):
            raise BookingError("suspended")
        return None
    decision = billing_selectors.desk_decision(
        member_id=member.user_id,
        space=resource.space,
        day=day,
        dedicated=kind == ResourceKind.DEDICATED_DESK,
    )
    if not decision.allowed:
        raise BookingError(REFUSALS[decision.reason])
    return decision


def room_description(resource: Resource, start: datetime, end: datetime) -> str:
    tz = resource.space.tz
    return _("%(room)s, %(day)s %(start)s-%(end)s") % {
        "room": resource.name,
        "day": start.astimezone(tz).strftime("%d/%m/%Y"),
        "start": start.astimezone(tz).strftime("%H:%M"),
        "end": end.astimezone(tz).strftime("%H:%M"),
    }


def consume(
    *, member: User, booking, now: datetime, decision: billing_selectors.DeskDecision | None = None
) -> billing_services.Consumption:
    """Inside the booking's transaction: draws the day credit or room minutes, invoices the rest."""
    resource = booking.resource
    kind = _resource_kind(resource)
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    try:
        return billing_services.entitlement_consume(
            member=member,
            space=booking.space,
            day=booking.local_date,
            resource_kind=kind,
            reference=f"booking:{booking.pk}",
            now=now,
            minutes=minutes,
            hourly_price=resource.hourly_price,
            # The invoice line of a room charged by the hour (a desk has none).
            description=room_description(resource, booking.start, booking.end) if kind == "room" else "",
            decision=decision,
        )
    except billing_services.BillingError as error:
        raise BookingError(REFUSALS.get(error.code, "not_entitled")) from None


def release(*, booking, today: date) -> None:
    """Inside the cancellation's transaction: gives the credit or minutes back, credits a room charge."""
    billing_services.entitlement_release(reference=f"booking:{booking.pk}", today=today)


def room_price(*, member: User, resource: Resource, day: date, minutes: int) -> billing_selectors.RoomQuote:
    """What booking a room for `minutes` would cost the member (shown before they confirm)."""
    return billing_selectors.room_quote(
        member_id=member.pk,
        space=resource.space,
        day=day,
        minutes=minutes,
        hourly_price=resource.hourly_price,
    )
