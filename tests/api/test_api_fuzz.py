"""Hypothesis throws arbitrary JSON and query strings at the API: a JSON error or a success, never a 5xx.

The clock is the real one: plausible dates are drawn around today at the space."""

import json
from datetime import UTC, date, time, timedelta, timezone
from urllib.parse import quote

import pytest
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import Booking
from members.tokens import token_create
from spaces import localtime
from tests.factories import BookingFactory, ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DESK, ROOM = "<desk>", "<room>"  # replaced by the fixtures' ids

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
near_days = st.integers(min_value=-3, max_value=70).map(lambda n: ("near", n))
any_days = st.dates().map(date.isoformat)
times = st.sampled_from(
    ["00:00", "08:30", "10:00", "10:30", "12:00", "13:00", "18:30", "19:00", "24:00"]
) | st.times().map(lambda t: t.isoformat())
offsets = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), None])
instants = st.datetimes(timezones=offsets).map(lambda d: d.isoformat()) | st.builds(
    lambda n, hour: ("near-instant", n, hour),
    st.integers(min_value=-2, max_value=70),
    st.sampled_from(["00:00", "09:00", "10:00", "13:00", "18:30"]),
)


def field(plausible):
    return plausible | json_values


resource_ids = st.sampled_from([DESK, ROOM])
parts = st.sampled_from(["full_day", "morning", "afternoon", "slot"])
# The three well-formed shapes (mostly bookable, or refused by a rule), then anything at all.
booking_bodies = (
    st.fixed_dictionaries({"resource_id": resource_ids, "date": near_days, "part": parts})
    | st.fixed_dictionaries(
        {"resource_id": resource_ids, "date": near_days, "start_time": times, "end_time": times}
    )
    | st.fixed_dictionaries({"resource_id": resource_ids, "start": instants, "end": instants})
    | st.fixed_dictionaries(
        {},
        optional={
            "resource_id": field(resource_ids | st.integers(min_value=-(2**70), max_value=2**70)),
            "date": field(near_days | any_days),
            "part": field(parts),
            "start_time": field(times),
            "end_time": field(times),
            "start": field(instants),
            "end": field(instants),
        },
    )
    | json_values
)


@pytest.fixture
def resources(db):
    space = SpaceFactory(slug="canal", weekdays=[0, 1, 2, 3, 4, 5, 6])
    zone = ZoneFactory(space=space)
    desk = ResourceFactory(zone=zone, name="Bureau")
    room = ResourceFactory(zone=zone, name="Salle", kind="meeting_room")
    # Someone else's bookings, in two days: requests for those slots conflict (409).
    day = localtime.local_date(django_timezone.now(), space.tz) + timedelta(days=2)
    BookingFactory(resource=desk, day=day)
    BookingFactory(resource=room, day=day, start_time=time(10, 0), end_time=time(12, 0))
    return space, desk, room


@pytest.fixture
def fuzzer(db):
    return UserFactory(member__display_name="Fuzz")


@pytest.fixture
def headers(fuzzer):
    _, raw = token_create(user=fuzzer, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


def _concrete(value, *, space, desk, room, today):
    """Replace the placeholders the strategies draw by ids and dates of this test's data."""
    if value == DESK:
        return desk.pk
    if value == ROOM:
        return room.pk
    if isinstance(value, tuple) and value[0] == "near":
        return (today + timedelta(days=value[1])).isoformat()
    if isinstance(value, tuple) and value[0] == "near-instant":
        return f"{(today + timedelta(days=value[1])).isoformat()}T{value[2]}:00+01:00"
    if isinstance(value, dict):
        return {
            key: _concrete(item, space=space, desk=desk, room=room, today=today)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_concrete(item, space=space, desk=desk, room=room, today=today) for item in value]
    return value


def assert_well_formed(response):
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert error["message"]


@pytest.mark.django_db
@FUZZ
@given(body=booking_bodies)
def test_arbitrary_booking_bodies_never_crash(client, resources, fuzzer, headers, body):
    space, desk, room = resources
    today = localtime.local_date(django_timezone.now(), space.tz)
    body = _concrete(body, space=space, desk=desk, room=room, today=today)
    response = client.post(
        "/api/v1/bookings", json.dumps(body), content_type="application/json", headers=headers
    )
    assert_well_formed(response)
    assert response.status_code in {201, 400, 403, 404, 409, 422}
    Booking.objects.filter(member=fuzzer).delete()


@pytest.mark.django_db
@FUZZ
@given(raw=st.binary(max_size=80) | st.text(max_size=80).map(str.encode))
def test_arbitrary_request_bodies_never_crash(client, resources, fuzzer, headers, raw):
    response = client.post("/api/v1/bookings", raw, content_type="application/json", headers=headers)
    assert_well_formed(response)
    assert response.status_code in {201, 400, 404, 409, 422}
    Booking.objects.filter(member=fuzzer).delete()


@pytest.mark.django_db
@FUZZ
@given(
    slug=st.just("canal") | st.text(min_size=1, max_size=20),
    day=st.none() | near_days | any_days | st.text(max_size=20),
    extra=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=3),
    signed_in=st.booleans(),
)
def test_arbitrary_availability_queries_never_crash(client, resources, headers, slug, day, extra, signed_in):
    space, desk, room = resources
    today = localtime.local_date(django_timezone.now(), space.tz)
    params = dict(extra)
    if day is not None:
        params["date"] = _concrete(day, space=space, desk=desk, room=room, today=today)
    response = client.get(
        f"/api/v1/spaces/{quote(slug, safe='')}/availability", params, headers=headers if signed_in else {}
    )
    assert_well_formed(response)
    assert response.status_code in {200, 404, 422}
