"""The hammer: THREADS threads released together by a barrier, ATTEMPTS rounds each, on real committed
data (the tests use transaction=True) and each thread on its own database connection.

Every attempt ends as a label ("booked" or a BookingError code) or as an error (any other exception:
a database error, a 5xx): a thread never raises, so pytest sees no unhandled thread exception.

The controls bypass the guard and must see the hammer fail: on PostgreSQL the exclusion constraints of
migration 0002 are dropped for the test (and put back, with the migration's own SQL, even on failure) and
the service's friendly checks are made blind to the attempts of their own round; on SQLite the writers'
transactions are DEFERRED instead of IMMEDIATE.
"""

import importlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from time import sleep
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingQuerySet
from spaces import localtime
from tests.factories import ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

THREADS = 16
ATTEMPTS = 5
# Injected between the friendly check and the insert: long enough for all the threads of a round to pass
# the check before the first insert commits, so that only the real guard stands between them.
RACE_WINDOW = 0.3
JOIN_TIMEOUT = 120
PARIS = ZoneInfo("Europe/Paris")  # SpaceFactory's time zone


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


# 16 different ranges, all containing 10:30-11:00 (so every pair overlaps), each 1 to 4 hours long.
ROOM_RANGES = [
    (start, end)
    for start in (time(8, 30), time(9), time(9, 30), time(10), time(10, 30))
    for end in (time(11), time(11, 30), time(12), time(12, 30))
    if 60 <= _minutes(start, end) <= 240
][:THREADS]

ON_POSTGRES = connection.vendor == "postgresql"
ON_SQLITE = connection.vendor == "sqlite"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="PostgreSQL only: concurrent writers with row locks (and the bookings' exclusion constraints); "
    "run with DATABASE_URL=postgres://...",
)
sqlite_only = pytest.mark.skipif(not ON_SQLITE, reason="SQLite only: IMMEDIATE transactions are its guard")

MIGRATION_0002 = importlib.import_module("bookings.migrations.0002_postgres_exclusion_constraints")
EXCLUSION_CONSTRAINTS = {"booking_no_overlap_per_resource", "booking_member_one_desk_at_a_time"}


@dataclass
class Outcome:
    labels: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def hammer(
    attempt: Callable[[object, int, int], str],
    *,
    prepare: Callable[[int], object] = lambda index: None,
    threads: int = THREADS,
    attempts: int = ATTEMPTS,
    before_each_round: Callable[[], None] | None = None,
) -> Outcome:
    """Run `attempt(state, thread_index, round)` in `threads` threads, `attempts` rounds each, every round
    released at once by a barrier (after `before_each_round()`, run by the last thread to arrive).
    `prepare(thread_index)` runs first in the thread (its own connection, its own objects) and returns the
    thread's state."""
    barrier = threading.Barrier(threads, action=before_each_round)
    lock = threading.Lock()
    outcome = Outcome()

    def record_error(exc: BaseException) -> None:
        with lock:
            outcome.errors.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")

    def worker(index: int) -> None:
        try:
            state = prepare(index)
            for round_ in range(attempts):
                barrier.wait(timeout=JOIN_TIMEOUT)
                try:
                    label = attempt(state, index, round_)
                except Exception as exc:
                    record_error(exc)
                else:
                    with lock:
                        outcome.labels[label] += 1
        except Exception as exc:  # prepare failed or the barrier broke: free the others, report it
            barrier.abort()
            record_error(exc)
        finally:
            connections.close_all()

    workers = [
        threading.Thread(target=worker, args=(index,), name=f"hammer-{index}") for index in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not [thread.name for thread in workers if thread.is_alive()], "hammer threads still running"
    return outcome


def next_weekday(days_ahead: int = 3):
    """A Monday-to-Friday day a few days ahead at the spaces' time zone, well inside the booking window."""
    day = localtime.local_date(timezone.now(), PARIS) + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def day():
    return next_weekday()


@pytest.fixture
def place(transactional_db):
    """A space open Monday to Friday 08:30-19:00 (Europe/Paris) with 16 hot desks and one meeting room."""
    space = SpaceFactory()
    open_space = ZoneFactory(space=space, name="Open space", position=0)
    desks = [ResourceFactory(zone=open_space, name=f"Bureau {n:02d}", position=n) for n in range(THREADS)]
    rooms = ZoneFactory(space=space, name="Salles", position=1)
    room = ResourceFactory(
        zone=rooms,
        name="Salle Jacquard",
        kind="meeting_room",
        capacity=8,
        min_booking_minutes=60,
        max_booking_minutes=240,
    )
    return space, desks, room


@pytest.fixture
def members(transactional_db):
    """One member per thread, each allowed to book (profile complete)."""
    return [UserFactory(member__display_name=f"Membre {n:02d}") for n in range(THREADS)]


@pytest.fixture
def race_window(monkeypatch):
    """Sleep RACE_WINDOW between the service's friendly checks and its insert (the booking's INSERT runs
    inside the transaction, right after the checks)."""
    create = services._NEW_BOOKING.create

    def slow_create(**kwargs):
        sleep(RACE_WINDOW)
        return create(**kwargs)

    monkeypatch.setattr(services._NEW_BOOKING, "create", slow_create)


def exclusion_constraints() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'bookings_booking'::regclass AND contype = 'x'"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture
def without_exclusion_constraints(transactional_db):
    """PostgreSQL's guard removed for one test, then restored with migration 0002's own statements (after
    deleting the overlapping bookings the race let in, which would prevent adding them back)."""
    assert exclusion_constraints() == EXCLUSION_CONSTRAINTS
    try:
        with connection.cursor() as cursor:
            for statement in MIGRATION_0002.BACKWARD:
                cursor.execute(statement)
        assert exclusion_constraints() == set()
        yield
    finally:
        Booking.objects.all().delete()
        with connection.cursor() as cursor:
            for statement in MIGRATION_0002.FORWARD:
                cursor.execute(statement)
        assert exclusion_constraints() == EXCLUSION_CONSTRAINTS


class RoundClock:
    """When the current round of the hammer was released (set by the barrier, before the threads go)."""

    def __init__(self):
        self.started = timezone.now()

    def new_round(self) -> None:
        self.started = timezone.now()


@pytest.fixture
def without_guard(without_exclusion_constraints, monkeypatch):
    """The guard bypassed on PostgreSQL: no exclusion constraints, and the service's in-transaction checks
    see only the bookings made before the current round started, as a check does when the concurrent
    attempts all check before any of them commits. Whatever else the service does to serialise bookings
    (row locks, retries), the threads of one round then all get in: the race, made certain.

    Pass the returned clock's `new_round` as the hammer's `before_each_round`."""
    clock = RoundClock()
    overlapping = BookingQuerySet.overlapping

    def overlapping_before_round(self, start, end):
        return overlapping(self, start, end).filter(created_at__lt=clock.started)

    monkeypatch.setattr(BookingQuerySet, "overlapping", overlapping_before_round)
    # The service runs its rivals check with SQL built once (spaces.prepared): here it is built from the
    # patched QuerySet on every call instead.
    for prepared in (services._DESK_RIVALS, services._ROOM_RIVALS):
        monkeypatch.setattr(prepared, "fetch", lambda prepared=prepared, **kw: list(prepared.build(**kw)))
    return clock


def run_concurrently(target, count: int) -> list[BaseException]:
    """Runs target(0..count-1) in threads released together; returns what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(index):
        try:
            barrier.wait()
            target(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors
