"""Many members answer an event with few seats at the same moment: never more than `capacity` seats, the
rest on the waiting list, like bookings' guarantee. The guard is the event's row lock, taken before the
seats are counted (community.services._lock_event); the control takes the lock away and sees the seats
overbooked, which proves the race is real and the lock is what stops it."""

from datetime import timedelta
from time import sleep

import pytest
from django.utils import timezone

from community import services
from community.models import Event, EventStatus, Rsvp, RsvpStatus
from tests.concurrency.conftest import RACE_WINDOW, THREADS, postgres_only, run_concurrently
from tests.factories import SpaceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
CAPACITY = 5


@pytest.fixture
def event(transactional_db):
    start = timezone.now() + timedelta(days=7)
    return Event.objects.create(
        space=SpaceFactory(),
        title="Barcamp",
        start=start,
        end=start + timedelta(hours=8),
        capacity=CAPACITY,
        status=EventStatus.APPROVED,
    )


@pytest.fixture
def people(transactional_db):
    return [UserFactory(member__display_name=f"Membre {n:02d}") for n in range(THREADS)]


@pytest.fixture
def race_window(monkeypatch):
    """Sleep between counting the seats taken and writing the answer: every thread that is not held back
    by the lock counts before any of the others writes."""
    count = services._seats_taken

    def slow_count(event_id):
        taken = count(event_id)
        sleep(RACE_WINDOW)
        return taken

    monkeypatch.setattr(services, "_seats_taken", slow_count)


def answer_all(event, people) -> list[BaseException]:
    now = timezone.now()
    return run_concurrently(lambda index: services.rsvp(event=event, user=people[index], now=now), THREADS)


def seats(event) -> dict[str, int]:
    return {
        status: Rsvp.objects.filter(event=event, status=status).count()
        for status in (RsvpStatus.GOING, RsvpStatus.WAITING)
    }


def test_concurrent_rsvps_never_take_more_seats_than_the_capacity(event, people, race_window):
    errors = answer_all(event, people)
    assert errors == []
    assert seats(event) == {RsvpStatus.GOING: CAPACITY, RsvpStatus.WAITING: THREADS - CAPACITY}


@postgres_only
def test_control_without_the_event_lock_the_seats_are_overbooked(event, people, race_window, monkeypatch):
    monkeypatch.setattr(services, "_lock_event", lambda event_id: Event.objects.get(pk=event_id))
    errors = answer_all(event, people)
    assert errors == []
    assert seats(event)[RsvpStatus.GOING] > CAPACITY


@postgres_only
def test_concurrent_cancellations_promote_each_waiting_member_once(event, people):
    now = timezone.now()
    for person in people:
        services.rsvp(event=event, user=person, now=now)
    going = [rsvp.user for rsvp in Rsvp.objects.filter(event=event, status=RsvpStatus.GOING)]
    errors = run_concurrently(
        lambda index: services.rsvp_cancel(event=event, user=going[index], now=now), CAPACITY
    )
    assert errors == []
    assert seats(event) == {RsvpStatus.GOING: CAPACITY, RsvpStatus.WAITING: THREADS - 2 * CAPACITY}
