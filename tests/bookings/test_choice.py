"""What a grid button posts (forms.parse_choice): read exactly, and anything else refused as a whole."""

from datetime import date, time

import pytest
from django.http import QueryDict

from bookings.forms import parse_choice


def parse(**fields):
    data = QueryDict(mutable=True)
    data.update(fields)
    return parse_choice(data)


def test_a_desk_a_zone_and_a_room_are_read():
    assert parse(date="2026-12-10", choice="desk:42:full_day") == {
        "date": date(2026, 12, 10),
        "choice": "desk:42:full_day",
        "kind": "desk",
        "target_id": 42,
        "part": "full_day",
    }
    assert parse(date="2026-12-10", choice="zone:3:morning")["part"] == "morning"
    room = parse(date="2026-12-10", choice="room:7:09:30-11:00")
    assert (room["kind"], room["target_id"], room["start_time"], room["end_time"]) == (
        "room",
        7,
        time(9, 30),
        time(11),
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"date": "2026-12-10"},
        {"choice": "desk:42:full_day"},
        {"date": "10/12/2026", "choice": "desk:42:full_day"},
        {"date": "2026-02-30", "choice": "desk:42:full_day"},
        {"date": "2026-12-10 ", "choice": "desk:42:full_day"},
        {"date": "２０２６-12-10", "choice": "desk:42:full_day"},
        {"date": "2026-12-10", "choice": "desk:٤٢:full_day"},
        {"date": "2026-12-10", "choice": "desk:42:evening"},
        {"date": "2026-12-10", "choice": "desk:42"},
        {"date": "2026-12-10", "choice": "table:42:full_day"},
        {"date": "2026-12-10", "choice": "desk:1234567890123:full_day"},
        {"date": "2026-12-10", "choice": "room:7:09:30"},
        {"date": "2026-12-10", "choice": "room:7:25:00-26:00"},
        {"date": "2026-12-10", "choice": "room:7:09:30-"},
        {"date": "2026-12-10", "choice": "desk:42:full_day\n"},
    ],
)
def test_anything_else_is_refused(fields):
    assert parse(**fields) is None
