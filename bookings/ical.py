"""iCalendar (RFC 5545) for bookings: one event per booking, for a download or a member's feed.

Desk bookings for a full day are all-day events on the space's local date; every other booking carries
its start and end with the space's time zone (TZID plus a VTIMEZONE), which Google Calendar, Outlook and
Apple Calendar all show at the right local time, DST included.
"""

from collections.abc import Iterable
from datetime import timedelta

import icalendar
from django.conf import settings
from django.utils import timezone

from bookings.models import Booking, BookingStatus, DayPart

PRODID = "-//Coworking//Bookings//FR"


def _event(booking: Booking) -> icalendar.Event:
    space = booking.space
    event = icalendar.Event()
    event.add("uid", f"booking-{booking.pk}@{settings.SITE_URL.split('://', 1)[-1]}")
    event.add("summary", f"{booking.resource.name} · {space.name}")
    event.add("location", f"{space.street_address}, {space.postal_code} {space.city}")
    event.add("dtstamp", timezone.now())
    event.add("created", booking.created_at)
    event.add("sequence", 1 if booking.status == BookingStatus.CANCELLED else 0)
    if booking.part == DayPart.FULL_DAY:
        event.add("dtstart", booking.local_date)
        event.add("dtend", booking.local_date + timedelta(days=1))
    else:
        event.add("dtstart", booking.start.astimezone(space.tz))
        event.add("dtend", booking.end.astimezone(space.tz))
    event.add("status", "CANCELLED" if booking.status == BookingStatus.CANCELLED else "CONFIRMED")
    event.add("url", settings.SITE_URL + "/bookings/")
    return event


def calendar_for(bookings: Iterable[Booking], *, name: str, extra: Iterable = ()) -> bytes:
    """A calendar of `bookings`, plus `extra` components (the events a member registered for, added
    through bookings.hooks.feed_sources)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for booking in bookings:
        calendar.add_component(_event(booking))
    for component in extra:
        calendar.add_component(component)
    calendar.add_missing_timezones()
    return calendar.to_ical()
