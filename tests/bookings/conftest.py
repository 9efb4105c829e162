from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.factories import ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

PARIS = ZoneInfo("Europe/Paris")
# Monday 23 November 2026, 10:00 in Paris.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def paris(db):
    return SpaceFactory(name="Canal", slug="canal", city="Paris", weekdays=[0, 1, 2, 3, 4, 5, 6])


@pytest.fixture
def open_space(paris):
    return ZoneFactory(space=paris, name="Open space", position=0)


@pytest.fixture
def desk(open_space):
    return ResourceFactory(zone=open_space, name="Bureau 01", position=1)


@pytest.fixture
def desk2(open_space):
    return ResourceFactory(zone=open_space, name="Bureau 02", position=2)


@pytest.fixture
def room(paris):
    zone = ZoneFactory(space=paris, name="Salles", position=1)
    return ResourceFactory(
        zone=zone,
        name="Salle Jacquard",
        kind="meeting_room",
        capacity=8,
        min_booking_minutes=60,
        max_booking_minutes=240,
    )


@pytest.fixture
def camille(db):
    return UserFactory(email="camille@example.com", member__display_name="Camille")


@pytest.fixture
def yanis(db):
    return UserFactory(email="yanis@example.com", member__display_name="Yanis")
