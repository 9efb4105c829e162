"""Extension points for the parts of the project above bookings (DESIGN.md: bookings imports no app
above it). The project package, coworking, registers them at start-up (coworking.apps): it may import
every app, so the community can hear about bookings and add its events to the calendar feed without
bookings knowing the community exists."""

from collections.abc import Callable, Iterable
from datetime import datetime

# Called inside the transaction that confirms a booking, so what they write (an e-mail owed, in an
# outbox) commits with the booking or not at all. They must not send anything themselves.
booking_confirmed: list[Callable[..., None]] = []
# Each returns the icalendar components (events) to add to a member's private feed:
# source(member_id=..., since=...).
feed_sources: list[Callable[..., Iterable]] = []


def run_booking_confirmed(booking) -> None:
    for hook in booking_confirmed:
        hook(booking=booking)


def feed_components(*, member_id: int, since: datetime) -> list:
    return [component for source in feed_sources for component in source(member_id=member_id, since=since)]
