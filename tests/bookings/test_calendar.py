from datetime import date, datetime, time

import icalendar
import pytest

from bookings import ical
from bookings.models import BookingStatus
from tests.bookings.conftest import PARIS
from tests.factories import BookingFactory

pytestmark = pytest.mark.django_db


def events(content):
    return icalendar.Calendar.from_ical(content).walk("VEVENT")


def test_a_full_day_desk_is_an_all_day_event_on_the_local_date(camille, desk):
    booking = BookingFactory(resource=desk, member=camille, day=date(2026, 11, 24))
    event = events(ical.calendar_for([booking], name="x"))[0]
    assert event.decoded("dtstart") == date(2026, 11, 24)
    assert event.decoded("dtend") == date(2026, 11, 25)
    assert "Canal" in str(event["summary"])


def test_a_room_booking_keeps_its_local_times_with_a_vtimezone_across_dst(camille, room):
    booking = BookingFactory(
        resource=room,
        member=camille,
        day=date(2027, 3, 28),
        part="slot",
        start_time=time(10),
        end_time=time(12),
    )
    content = ical.calendar_for([booking], name="x")
    calendar = icalendar.Calendar.from_ical(content)
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == "Europe/Paris"
    event = calendar.walk("VEVENT")[0]
    assert b"DTSTART;TZID=Europe/Paris:20270328T100000" in content
    assert event.decoded("dtstart") == datetime(2027, 3, 28, 10, tzinfo=PARIS)
    assert event.decoded("dtstart").utcoffset().total_seconds() == 7200


def test_the_feed_lists_the_members_bookings_behind_its_secret_token(client, camille, yanis, desk):
    mine = BookingFactory(resource=desk, member=camille, day=date(2026, 11, 30))
    BookingFactory(resource=desk, member=yanis, day=date(2026, 12, 1))
    client.force_login(camille)
    client.post("/bookings/calendar/")
    token = camille.calendar_feed.token
    client.logout()
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    uids = [str(event["uid"]) for event in events(response.content)]
    assert uids == [f"booking-{mine.pk}@127.0.0.1:8000"]


def test_replacing_the_feed_link_cuts_off_the_old_one(client, camille):
    client.force_login(camille)
    client.post("/bookings/calendar/")
    old = camille.calendar_feed.token
    client.post("/bookings/calendar/")
    camille.calendar_feed.refresh_from_db()
    assert camille.calendar_feed.token != old
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{camille.calendar_feed.token}.ics").status_code == 200


def test_cancelled_bookings_appear_cancelled_in_the_feed(client, camille, desk):
    from django.utils import timezone

    BookingFactory(
        resource=desk,
        member=camille,
        day=date(2026, 11, 30),
        status=BookingStatus.CANCELLED,
        cancelled_at=timezone.now(),
    )
    client.force_login(camille)
    client.post("/bookings/calendar/")
    event = events(client.get(f"/calendar/{camille.calendar_feed.token}.ics").content)[0]
    assert str(event["status"]) == "CANCELLED"


def test_an_unknown_token_is_404(client, db):
    assert client.get("/calendar/not-a-token.ics").status_code == 404


@pytest.mark.parametrize("token", ["a%00b" * 5, "../../etc/passwd", "x" * 300])
def test_a_malformed_token_is_404(client, db, token):
    assert client.get(f"/calendar/{token}.ics").status_code == 404
