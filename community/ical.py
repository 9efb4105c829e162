"""iCalendar for events: one .ics per event, and the events a member holds a seat at in their private
feed (added to bookings' feed through bookings.hooks.feed_sources, registered by coworking)."""

from collections.abc import Iterable
from datetime import datetime

import icalendar
from django.conf import settings
from django.utils import timezone

from community import selectors
from community.models import Event, EventStatus

PRODID = "-//Coworking//Community//FR"


def event_component(event: Event) -> icalendar.Event:
    space = event.space
    component = icalendar.Event()
    component.add("uid", f"event-{event.pk}@{settings.SITE_URL.split('://', 1)[-1]}")
    component.add("summary", f"{event.title} · {space.name}")
    component.add("description", event.description)
    component.add("location", f"{space.name}, {space.street_address}, {space.postal_code} {space.city}")
    component.add("dtstamp", timezone.now())
    component.add("dtstart", event.start.astimezone(space.tz))
    component.add("dtend", event.end.astimezone(space.tz))
    component.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED")
    component.add("url", settings.SITE_URL + event.get_absolute_url())
    return component


def calendar_for(events: Iterable[Event], *, name: str) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event_component(event))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def feed_components(*, member_id: int, since: datetime) -> list[icalendar.Event]:
    return [event_component(event) for event in selectors.member_events(user_id=member_id, since=since)[:200]]
