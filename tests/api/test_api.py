"""The JSON API v1: every endpoint, both ways of authenticating, the error codes and their JSON shape, and
that a member never reaches another member's bookings. The clock is frozen on Monday 23 November 2026,
10:00 in Paris."""

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation

from bookings.errors import BookingError
from bookings.models import Booking, BookingStatus, DayPart
from members.models import User
from members.tokens import token_create, token_revoke
from spaces.models import Closure
from tests.factories import BookingFactory, ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)  # a Monday
TODAY = NOW.date()
DAY = date(2026, 11, 25)  # Wednesday
SATURDAY = date(2026, 11, 28)
API = "/api/v1"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def space(db):
    return SpaceFactory(name="Canal", slug="canal", city="Paris")


@pytest.fixture
def zone(space):
    return ZoneFactory(space=space, name="Open space", position=0)


@pytest.fixture
def desk(zone):
    return ResourceFactory(zone=zone, name="Bureau 01", position=1)


@pytest.fixture
def desk2(zone):
    return ResourceFactory(zone=zone, name="Bureau 02", position=2)


@pytest.fixture
def room(space):
    return ResourceFactory(
        zone=ZoneFactory(space=space, name="Salles", position=1),
        name="Salle Jacquard",
        kind="meeting_room",
        capacity=8,
        min_booking_minutes=60,
        max_booking_minutes=240,
    )


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", member__display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", member__display_name="Bob")


class Api:
    """A test client speaking JSON to /api/v1, with a bearer token or without."""

    def __init__(self, client: Client, token: str | None = None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(API + path, params or {}, headers=self.headers)

    def post(self, path: str, body=None, *, raw: bytes | None = None):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        return self.client.post(API + path, data, content_type="application/json", headers=self.headers)


def api_for(user: User) -> Api:
    _, raw = token_create(user=user, name="tests")
    return Api(Client(), raw)


@pytest.fixture
def as_alice(alice):
    return api_for(alice)


@pytest.fixture
def as_bob(bob):
    return api_for(bob)


@pytest.fixture
def anonymous(client):
    return Api(client)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "fields"}
    return body["error"]


def desk_booking(desk, member, day=DAY, part=DayPart.FULL_DAY) -> Booking:
    return BookingFactory(resource=desk, member=member, day=day, part=part)


# The schema.


def test_the_openapi_schema_describes_every_endpoint(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"] == {
        "title": "Coworking API",
        "version": "1",
        "description": schema["info"]["description"],
    }
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/spaces",
        "/api/v1/spaces/{slug}/availability",
        "/api/v1/bookings",
        "/api/v1/bookings/{booking_id}",
        "/api/v1/bookings/{booking_id}/cancel",
    }
    assert set(schema["paths"]["/api/v1/bookings"]) == {"get", "post"}
    assert "BookingIn" in schema["components"]["schemas"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "Session"}
    assert schema["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}
    # Every reference resolves.
    refs = set()

    def collect(node):
        if isinstance(node, dict):
            refs.update(value for key, value in node.items() if key == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schema["components"]["schemas"]


def test_there_is_no_docs_page_and_unknown_urls_are_json_404s(anonymous):
    for path in ("/docs", "/", "/nothing/here", "/bookings/abc", "/spaces/"):
        assert_error(anonymous.get(path), 404, "not_found")


def test_a_wrong_method_is_a_json_405(as_alice):
    response = as_alice.client.delete(f"{API}/bookings", headers=as_alice.headers)
    assert_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


# Spaces.


def test_spaces_lists_the_active_spaces_without_authentication(anonymous, space):
    SpaceFactory(name="Fermé", slug="ferme", is_active=False)
    response = anonymous.get("/spaces")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": space.pk,
            "slug": "canal",
            "name": "Canal",
            "city": "Paris",
            "country": "FR",
            "time_zone": "Europe/Paris",
            "currency": "EUR",
            "vat_rate": "20.00",
            "booking_window_days": 60,
            "cancellation_cutoff_hours": 24,
        }
    ]


def test_availability_shows_every_resource_and_marks_the_members_own_bookings(
    as_alice, as_bob, anonymous, alice, bob, desk, desk2, room, django_assert_max_num_queries
):
    desk_booking(desk, alice, part=DayPart.MORNING)
    desk_booking(desk2, bob)
    BookingFactory(resource=room, member=alice, day=DAY, start_time=time(10, 30), end_time=time(11, 30))

    with django_assert_max_num_queries(8):
        response = as_alice.get("/spaces/canal/availability", {"date": "2026-11-25"})
    assert response.status_code == 200
    body = response.json()
    assert body["space"]["slug"] == "canal"
    assert body["date"] == "2026-11-25"
    assert (body["is_open"], body["opens"], body["closes"], body["closure_reason"]) == (
        True,
        "08:30",
        "19:00",
        None,
    )
    open_space, rooms = body["zones"]
    assert open_space["name"] == "Open space"
    assert open_space["rooms"] == []
    assert open_space["desks"] == [
        {"id": desk.pk, "name": "Bureau 01", "kind": "hot_desk", "morning": "yours", "afternoon": "free"},
        {"id": desk2.pk, "name": "Bureau 02", "kind": "hot_desk", "morning": "taken", "afternoon": "taken"},
    ]
    assert rooms["desks"] == []
    [jacquard] = rooms["rooms"]
    assert (jacquard["id"], jacquard["name"], jacquard["capacity"]) == (room.pk, "Salle Jacquard", 8)
    slots = {(slot["start"], slot["end"]): slot["state"] for slot in jacquard["slots"]}
    assert next(iter(slots)) == ("08:30", "09:30")
    assert list(slots)[-1] == ("18:30", "19:00")
    assert slots[("09:30", "10:30")] == "free"
    assert slots[("10:30", "11:30")] == "yours"

    # Bob and anonymous visitors see Alice's bookings as taken.
    for viewer in (as_bob, anonymous):
        desks = viewer.get("/spaces/canal/availability", {"date": "2026-11-25"}).json()["zones"][0]["desks"]
        assert desks[0]["morning"] == "taken"
    assert as_bob.get("/spaces/canal/availability", {"date": "2026-11-25"}).json()["zones"][0]["desks"][1][
        "morning"
    ] == ("yours")


def test_availability_defaults_to_today_with_past_slots(anonymous, desk, room):
    body = anonymous.get("/spaces/canal/availability").json()
    assert body["date"] == "2026-11-23"
    desks, rooms = body["zones"][0]["desks"], body["zones"][1]["rooms"]
    # 10:00: the morning is not over yet; the first room slots are.
    assert (desks[0]["morning"], desks[0]["afternoon"]) == ("free", "free")
    assert [slot["state"] for slot in rooms[0]["slots"][:3]] == ["past", "free", "free"]


def test_availability_on_a_closed_day(anonymous, space, desk, room):
    body = anonymous.get("/spaces/canal/availability", {"date": SATURDAY.isoformat()}).json()
    assert (body["is_open"], body["opens"], body["closes"]) == (False, None, None)
    assert body["zones"][0]["desks"][0]["morning"] == "closed"
    assert body["zones"][1]["rooms"][0]["slots"] == []
    Closure.objects.create(space=space, start_date=DAY, end_date=DAY, reason="Travaux")
    body = anonymous.get("/spaces/canal/availability", {"date": DAY.isoformat()}).json()
    assert (body["is_open"], body["closure_reason"]) == (False, "Travaux")


@pytest.mark.parametrize(
    ("day", "status", "code"),
    [
        ("2026-11-22", 422, "in_past"),
        ("2027-01-23", 422, "beyond_window"),
        ("9999-12-31", 422, "beyond_window"),
        ("0001-01-01", 422, "in_past"),
        ("2026-02-30", 422, "invalid"),
        ("tomorrow", 422, "invalid"),
    ],
)
def test_availability_refuses_days_that_cannot_be_booked(anonymous, desk, day, status, code):
    error = assert_error(anonymous.get("/spaces/canal/availability", {"date": day}), status, code)
    if code == "invalid":
        assert error["fields"][0]["loc"] == ["query", "date"]


def test_the_last_day_of_the_window_is_available(anonymous, desk):
    assert anonymous.get("/spaces/canal/availability", {"date": "2027-01-22"}).status_code == 200


def test_availability_of_an_unknown_or_inactive_space_is_not_found(anonymous, desk):
    SpaceFactory(slug="ferme", is_active=False)
    assert_error(anonymous.get("/spaces/nowhere/availability"), 404, "not_found")
    assert_error(anonymous.get("/spaces/%00/availability"), 404, "not_found")  # a DataError on PostgreSQL
    assert_error(anonymous.get("/spaces/ferme/availability"), 404, "not_found")


# Booking.


def test_booking_a_desk_for_the_day(as_alice, alice, desk):
    response = as_alice.post("/bookings", {"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"})
    assert response.status_code == 201, response.content
    booking = Booking.objects.get()
    assert (booking.member, booking.resource, booking.part) == (alice, desk, DayPart.FULL_DAY)
    assert response.json() == {
        "id": booking.pk,
        "resource": {"id": desk.pk, "name": "Bureau 01", "kind": "hot_desk"},
        "space": {"slug": "canal", "name": "Canal", "time_zone": "Europe/Paris"},
        "date": "2026-11-25",
        "part": "full_day",
        "start": "2026-11-25T00:00:00+01:00",
        "end": "2026-11-26T00:00:00+01:00",
        "status": "confirmed",
        "cancellable": True,
        "created_at": "2026-11-23T09:00:00Z",
    }


@pytest.mark.parametrize(
    ("part", "start", "end"),
    [
        ("morning", "2026-11-25T00:00:00+01:00", "2026-11-25T13:00:00+01:00"),
        ("afternoon", "2026-11-25T13:00:00+01:00", "2026-11-26T00:00:00+01:00"),
    ],
)
def test_booking_half_a_day(as_alice, desk, part, start, end):
    response = as_alice.post("/bookings", {"resource_id": desk.pk, "date": "2026-11-25", "part": part})
    assert response.status_code == 201
    assert (response.json()["part"], response.json()["start"], response.json()["end"]) == (part, start, end)


def test_booking_a_room_with_local_times(as_alice, room):
    response = as_alice.post(
        "/bookings",
        {"resource_id": room.pk, "date": "2026-11-25", "start_time": "10:00", "end_time": "11:30"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["part"], body["start"], body["end"]) == (
        "slot",
        "2026-11-25T10:00:00+01:00",
        "2026-11-25T11:30:00+01:00",
    )
    assert body["resource"]["kind"] == "meeting_room"


def test_booking_with_two_instants(as_alice, room, desk):
    # Any offset: 09:00Z is 10:00 in Paris.
    response = as_alice.post(
        "/bookings",
        {"resource_id": room.pk, "start": "2026-11-25T09:00:00Z", "end": "2026-11-25T11:00:00+01:00"},
    )
    assert response.status_code == 201, response.content
    assert (response.json()["start"], response.json()["end"]) == (
        "2026-11-25T10:00:00+01:00",
        "2026-11-25T11:00:00+01:00",
    )
    response = as_alice.post(
        "/bookings",
        {"resource_id": desk.pk, "start": "2026-11-25T13:00:00+01:00", "end": "2026-11-26T00:00:00+01:00"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["part"] == "afternoon"


def test_two_instants_that_are_not_a_half_day_of_a_desk_are_refused(as_alice, desk):
    response = as_alice.post(
        "/bookings",
        {"resource_id": desk.pk, "start": "2026-11-25T09:00:00+01:00", "end": "2026-11-25T12:00:00+01:00"},
    )
    assert_error(response, 422, "wrong_part")


def test_a_room_range_ending_on_a_later_day_is_refused(as_alice, room):
    # The local times alone (10:00-11:00) would be bookable: the later day must not be dropped.
    response = as_alice.post(
        "/bookings",
        {"resource_id": room.pk, "start": "2026-11-25T10:00:00+01:00", "end": "2026-11-26T11:00:00+01:00"},
    )
    assert_error(response, 400, "invalid")
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"resource_id": 0, "date": "2026-11-25", "part": "full_day"},
        {"resource_id": "1", "date": "2026-11-25", "part": "full_day"},
        {"resource_id": 1.0, "date": "2026-11-25", "part": "full_day"},
        {"date": "2026-11-25", "part": "full_day"},
        {"resource_id": 1, "date": "2026-11-25"},
        {"resource_id": 1, "date": "2026-11-25", "part": "evening"},
        {"resource_id": 1, "date": "25/11/2026", "part": "full_day"},
        {"resource_id": 1, "date": "2026-11-25", "part": "full_day", "start_time": "10:00"},
        {"resource_id": 1, "date": "2026-11-25", "part": "full_day", "member_id": 2},
        {"resource_id": 1, "date": "2026-11-25", "start_time": "10:00"},
        {"resource_id": 1, "date": "2026-11-25", "start_time": "10:00+01:00", "end_time": "11:00+01:00"},
        {"resource_id": 1, "date": "2026-11-25", "start_time": "25:00", "end_time": "26:00"},
        {"resource_id": 1, "start": "2026-11-25T10:00:00", "end": "2026-11-25T11:00:00"},
        {"resource_id": 1, "start": "2026-11-25T10:00:00+01:00"},
        [1, 2],
        "booking",
        None,
    ],
)
def test_invalid_bodies_are_422_invalid_with_the_fields(as_alice, desk, body):
    error = assert_error(as_alice.post("/bookings", body), 422, "invalid")
    assert error["fields"]
    for field in error["fields"]:
        assert field["loc"][0] == "body"
        assert "payload" not in field["loc"]
        assert field["message"]
        assert field["type"]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("raw", [b'{"resource_id": 1', b"not json", b'{"a": 1}}', b"\xff\xfe", b"{'a': 1}"])
def test_a_malformed_json_body_is_400_invalid(as_alice, desk, raw):
    assert_error(as_alice.post("/bookings", raw=raw), 400, "invalid")


def test_the_end_before_the_start_is_400_invalid(as_alice, room):
    response = as_alice.post(
        "/bookings",
        {"resource_id": room.pk, "date": "2026-11-25", "start_time": "11:00", "end_time": "10:00"},
    )
    assert_error(response, 400, "invalid")


def test_instants_out_of_range_are_invalid_not_a_crash(as_alice, room, desk):
    for resource in (room, desk):
        response = as_alice.post(
            "/bookings",
            {
                "resource_id": resource.pk,
                "start": "0001-01-01T00:00:00+05:00",
                "end": "0001-01-01T01:00:00+05:00",
            },
        )
        assert_error(response, 400, "invalid")
        response = as_alice.post(
            "/bookings",
            {
                "resource_id": resource.pk,
                "start": "2026-11-25T10:00:00+01:00",
                "end": "9999-12-31T23:30:00-05:00",
            },
        )
        assert_error(response, 400, "invalid")


def test_unknown_or_inactive_resources_are_not_found(as_alice, desk, zone):
    inactive = ResourceFactory(zone=zone, name="Rangé", is_active=False)
    closed_space = ResourceFactory(zone=ZoneFactory(space=SpaceFactory(slug="ferme", is_active=False)))
    for resource_id in (10**6, inactive.pk, closed_space.pk, 2**63 - 1):
        response = as_alice.post(
            "/bookings", {"resource_id": resource_id, "date": "2026-11-25", "part": "full_day"}
        )
        assert_error(response, 404, "not_found")
    assert not Booking.objects.exists()


def test_a_taken_slot_is_409_slot_taken(as_alice, bob, desk):
    desk_booking(desk, bob, part=DayPart.AFTERNOON)
    response = as_alice.post("/bookings", {"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"})
    assert_error(response, 409, "slot_taken")
    assert Booking.objects.count() == 1


def test_a_second_desk_at_once_is_409_member_has_desk(as_alice, alice, desk, desk2):
    desk_booking(desk, alice, part=DayPart.MORNING)
    response = as_alice.post("/bookings", {"resource_id": desk2.pk, "date": "2026-11-25", "part": "full_day"})
    assert_error(response, 409, "member_has_desk")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"date": "2026-11-20", "part": "full_day"}, 422, "in_past"),
        ({"date": "2026-11-28", "part": "full_day"}, 422, "closed"),
        ({"date": "2027-01-23", "part": "full_day"}, 422, "beyond_window"),
        ({"date": "9999-12-31", "part": "full_day"}, 422, "beyond_window"),
        ({"date": "0001-01-01", "part": "morning"}, 422, "in_past"),
        ({"start": "2026-11-20T00:00:00+01:00", "end": "2026-11-21T00:00:00+01:00"}, 422, "in_past"),
        ({"date": "2026-11-25", "start_time": "10:00", "end_time": "11:00"}, 422, "wrong_part"),
    ],
)
def test_desk_rule_violations_are_422_with_the_services_code(as_alice, desk, body, status, code):
    assert_error(as_alice.post("/bookings", {"resource_id": desk.pk, **body}), status, code)
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"date": "2026-11-23", "start_time": "09:00", "end_time": "10:00"}, 422, "in_past"),
        ({"date": "2026-11-25", "start_time": "10:15", "end_time": "11:15"}, 422, "misaligned"),
        ({"date": "2026-11-25", "start_time": "10:00", "end_time": "10:30"}, 422, "too_short"),
        ({"date": "2026-11-25", "start_time": "10:00", "end_time": "15:00"}, 422, "too_long"),
        ({"date": "2026-11-25", "start_time": "07:00", "end_time": "09:00"}, 422, "outside_opening_hours"),
        ({"date": "2026-11-28", "start_time": "10:00", "end_time": "11:00"}, 422, "closed"),
        ({"date": "2026-11-25", "part": "morning"}, 422, "wrong_part"),
        ({"start": "2026-11-25T10:00:00+01:00", "end": "2026-11-25T10:45:00+01:00"}, 422, "misaligned"),
    ],
)
def test_room_rule_violations_are_422_with_the_services_code(as_alice, room, body, status, code):
    assert_error(as_alice.post("/bookings", {"resource_id": room.pk, **body}), status, code)
    assert not Booking.objects.exists()


def test_a_member_without_a_name_gets_403_profile_incomplete(desk):
    nameless = UserFactory(email="nameless@example.com")
    response = api_for(nameless).post(
        "/bookings", {"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"}
    )
    assert_error(response, 403, "profile_incomplete")
    assert not Booking.objects.exists()


def test_messages_follow_the_requests_language(alice, bob, desk):
    desk_booking(desk, bob)
    _, raw = token_create(user=alice, name="tests")
    body = json.dumps({"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"})
    messages = {}
    for language in ("en", "fr"):
        response = Client().post(
            f"{API}/bookings",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}", "Accept-Language": language},
        )
        messages[language] = assert_error(response, 409, "slot_taken")["message"]
        with translation.override(language):
            assert messages[language] == BookingError("slot_taken").message
    assert messages["en"] != messages["fr"]


# Listing, reading, cancelling.


def test_listing_the_members_bookings_by_scope(as_alice, alice, bob, desk, desk2, room):
    upcoming = desk_booking(desk, alice)
    later = desk_booking(desk, alice, day=date(2026, 11, 26))
    past = desk_booking(desk, alice, day=date(2026, 11, 20))
    cancelled = desk_booking(desk2, alice, day=date(2026, 11, 27))
    cancelled.status, cancelled.cancelled_at = BookingStatus.CANCELLED, NOW
    cancelled.save()
    desk_booking(desk2, bob)  # not hers

    def ids(params=None):
        response = as_alice.get("/bookings", params)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [upcoming.pk, later.pk]
    assert ids({"scope": "upcoming"}) == [upcoming.pk, later.pk]
    assert ids({"scope": "past"}) == [cancelled.pk, past.pk]
    assert ids({"scope": "all"}) == [cancelled.pk, later.pk, upcoming.pk, past.pk]
    item = as_alice.get("/bookings").json()["items"][0]
    assert item["space"] == {"slug": "canal", "name": "Canal", "time_zone": "Europe/Paris"}


def test_the_list_is_paginated_in_a_fixed_number_of_queries(as_alice, alice, desk, django_assert_num_queries):
    BookingFactory.create_past_batch(130, resource=desk, member=alice, last_day=date(2026, 11, 20))
    with django_assert_num_queries(4):  # token, its last use, count, page
        response = as_alice.get("/bookings", {"scope": "past", "limit": 100, "offset": 10})
    body = response.json()
    assert (body["count"], body["limit"], body["offset"], len(body["items"])) == (130, 100, 10, 100)
    assert body["items"][0]["date"] == "2026-11-10"
    assert as_alice.get("/bookings", {"scope": "past"}).json()["limit"] == 20
    assert len(as_alice.get("/bookings", {"scope": "past", "offset": 120}).json()["items"]) == 10


@pytest.mark.parametrize(
    "params", [{"limit": 101}, {"limit": 0}, {"offset": -1}, {"scope": "future"}, {"limit": "ten"}]
)
def test_list_parameters_are_validated(as_alice, params):
    assert_error(as_alice.get("/bookings", params), 422, "invalid")


def test_reading_ones_booking(as_alice, alice, desk):
    booking = desk_booking(desk, alice)
    response = as_alice.get(f"/bookings/{booking.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == booking.pk
    assert_error(as_alice.get("/bookings/999999"), 404, "not_found")
    assert_error(as_alice.get(f"/bookings/{10**30}"), 404, "not_found")


def test_cancelling_ones_booking(as_alice, alice, desk):
    booking = desk_booking(desk, alice)
    response = as_alice.post(f"/bookings/{booking.pk}/cancel")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["cancellable"]) == ("cancelled", False)
    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_by) == (BookingStatus.CANCELLED, alice)
    # The slot is free again.
    desks = as_alice.get("/spaces/canal/availability", {"date": "2026-11-25"}).json()["zones"][0]["desks"]
    assert desks[0]["morning"] == "free"
    assert_error(as_alice.post(f"/bookings/{booking.pk}/cancel"), 409, "already_cancelled")


def test_cancelling_after_the_cut_off_is_409_cancellation_closed(as_alice, alice, space, desk):
    space.cancellation_cutoff_hours = 24 * 7
    space.save()
    booking = desk_booking(desk, alice)
    assert as_alice.get(f"/bookings/{booking.pk}").json()["cancellable"] is False
    assert_error(as_alice.post(f"/bookings/{booking.pk}/cancel"), 409, "cancellation_closed")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


# Nobody reaches another member's bookings.


@pytest.mark.parametrize(("method", "path"), [("get", "/bookings/{id}"), ("post", "/bookings/{id}/cancel")])
def test_another_members_booking_is_not_found_and_untouched(as_bob, alice, desk, method, path):
    booking = desk_booking(desk, alice)
    before = Booking.objects.values().get(pk=booking.pk)
    response = getattr(as_bob, method)(path.format(id=booking.pk))
    error = assert_error(response, 404, "not_found")
    # Exactly what an id that does not exist gives.
    assert error == assert_error(getattr(as_bob, method)(path.format(id=booking.pk + 1000)), 404, "not_found")
    assert Booking.objects.values().get(pk=booking.pk) == before
    assert as_bob.get("/bookings", {"scope": "all"}).json() == {
        "count": 0,
        "limit": 20,
        "offset": 0,
        "items": [],
    }


def test_a_manager_cannot_cancel_a_members_booking_through_the_api(alice, desk, space):
    from tests.factories import ManagerFactory

    manager = ManagerFactory(email="manager@example.com", spaces=[space], member__display_name="Manager")
    booking = desk_booking(desk, alice)
    assert_error(api_for(manager).post(f"/bookings/{booking.pk}/cancel"), 404, "not_found")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


# Authentication.


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/bookings"), ("post", "/bookings"), ("get", "/bookings/1"), ("post", "/bookings/1/cancel")],
)
def test_member_routes_need_authentication(anonymous, method, path):
    error = assert_error(getattr(anonymous, method)(path), 401, "unauthenticated")
    assert "fields" not in error


def test_the_session_authenticates_and_post_needs_the_csrf_token(alice, desk):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(f"{API}/bookings").status_code == 200
    body = json.dumps({"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"})

    response = browser.post(f"{API}/bookings", body, content_type="application/json")
    assert_error(response, 403, "csrf_failed")
    assert not Booking.objects.exists()

    browser.get("/accounts/api-tokens/")  # any page with a form sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(
        f"{API}/bookings", body, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 201, response.content
    booking = Booking.objects.get()
    assert_error(browser.post(f"{API}/bookings/{booking.pk}/cancel"), 403, "csrf_failed")
    response = browser.post(f"{API}/bookings/{booking.pk}/cancel", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200


def test_an_anonymous_post_is_401_not_a_csrf_error(desk):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(f"{API}/bookings", "{}", content_type="application/json")
    assert_error(response, 401, "unauthenticated")


def test_a_bearer_token_authenticates_without_csrf(alice, desk):
    _, raw = token_create(user=alice, name="script")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"{API}/bookings",
        json.dumps({"resource_id": desk.pk, "date": "2026-11-25", "part": "full_day"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 201
    assert Booking.objects.get().member == alice


@pytest.mark.parametrize(
    "header", ["Bearer cw_not-a-token", "Bearer ", "Bearer", "bearer cw_x y", "Bearer " + "x" * 5000]
)
def test_a_wrong_token_is_401(anonymous, header):
    response = anonymous.client.get(f"{API}/bookings", headers={"Authorization": header})
    assert_error(response, 401, "unauthenticated")


def test_a_revoked_token_is_401_even_with_a_session(alice):
    token, raw = token_create(user=alice, name="old")
    client = Client()
    assert client.get(f"{API}/bookings", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    token_revoke(token=token, user=alice)
    assert_error(
        client.get(f"{API}/bookings", headers={"Authorization": f"Bearer {raw}"}), 401, "unauthenticated"
    )
    client.force_login(alice)
    assert_error(
        client.get(f"{API}/bookings", headers={"Authorization": f"Bearer {raw}"}), 401, "unauthenticated"
    )
    # On public routes too: a credential that is sent must be right.
    assert_error(
        client.get(f"{API}/spaces", headers={"Authorization": f"Bearer {raw}"}), 401, "unauthenticated"
    )
    assert client.get(f"{API}/bookings").status_code == 200


def test_an_inactive_users_token_is_401(alice):
    _, raw = token_create(user=alice, name="script")
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert_error(Api(Client(), raw).get("/bookings"), 401, "unauthenticated")
