"""The one place where the booking service asks whether a member may hold a resource for a time.

Today: a member may book once their profile is complete. The passes issue replaces the body of
`check` with a call to billing's selector/service (passes, day credits, included room hours); the booking
service and its callers do not change.
"""

from datetime import datetime

from bookings.errors import BookingError
from members.models import Member


def check(*, member: Member, resource, start: datetime, end: datetime) -> None:
    if not member.is_complete:
        raise BookingError("profile_incomplete")
