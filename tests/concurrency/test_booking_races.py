"""Races through the booking service: 16 threads x 5 attempts on one desk-day, on overlapping ranges of one
room, and (one member) on 16 desks of one day. Exactly one booking, every loser a clean BookingError, no
database error, on both databases; and controls showing that without the guard the same hammer fails."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, DayPart
from members.models import User
from spaces.models import Resource
from tests.concurrency.conftest import (
    ATTEMPTS,
    EXCLUSION_CONSTRAINTS,
    ON_POSTGRES,
    ROOM_RANGES,
    THREADS,
    exclusion_constraints,
    hammer,
    postgres_only,
    sqlite_only,
)

pytestmark = pytest.mark.django_db(transaction=True)
TOTAL = THREADS * ATTEMPTS


def test_the_room_ranges_are_distinct_and_all_overlap():
    assert len(set(ROOM_RANGES)) == THREADS
    for start, end in ROOM_RANGES:
        for other_start, other_end in ROOM_RANGES:
            assert start < other_end
            assert other_start < end


def _book(state, index: int, round_: int) -> str:
    user, slots = state
    try:
        services.booking_create(member=user, slot=slots[(index + round_) % len(slots)], now=timezone.now())
    except BookingError as error:
        return error.code
    return "booked"


def _scenario(name: str, place, members, day):
    """(prepare, expected labels) of a scenario; prepare loads the thread's own objects."""
    _space, desks, room = place

    def load(user_id: int, resource_id: int):
        return User.objects.get(pk=user_id), Resource.objects.select_related("space").get(pk=resource_id)

    if name == "desk_day":
        # 16 members, one desk, one day: 79 losers are told the slot is taken.
        def prepare(index):
            user, desk = load(members[index].pk, desks[0].pk)
            return user, [services.desk_slot(resource=desk, day=day, part=DayPart.FULL_DAY)]

        return prepare, {"booked": 1, "slot_taken": TOTAL - 1}
    if name == "room_ranges":
        # 16 members, one room, 16 different ranges that all overlap (each thread moves to the next range
        # every round): 79 losers are told the slot is taken.
        def prepare(index):
            user, room_ = load(members[index].pk, room.pk)
            slots = [
                services.room_slot(resource=room_, day=day, start_time=start, end_time=end)
                for start, end in ROOM_RANGES
            ]
            return user, slots

        return prepare, {"booked": 1, "slot_taken": TOTAL - 1}
    if name == "member_desks":
        # One member, 16 desks (one per thread), one day: a member holds one desk at a time. The winning
        # thread's 4 later attempts hit its own booked desk (slot_taken); the 75 others get member_has_desk.
        def prepare(index):
            user, desk = load(members[0].pk, desks[index].pk)
            return user, [services.desk_slot(resource=desk, day=day, part=DayPart.FULL_DAY)]

        return prepare, {"booked": 1, "slot_taken": ATTEMPTS - 1, "member_has_desk": TOTAL - ATTEMPTS}
    raise AssertionError(name)


SCENARIOS = ["desk_day", "room_ranges", "member_desks"]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("widened", [False, True], ids=["as_is", "race_window"])
def test_the_hammer_books_exactly_once(scenario, widened, place, members, day, request):
    """On PostgreSQL the exclusion constraints decide (the friendly checks see no uncommitted row); on
    SQLite the IMMEDIATE transaction serialises check and insert. With the race window widened, a thread
    waits between the friendly checks and its insert: on PostgreSQL every thread of the first round then
    passes the checks before anyone inserts."""
    if ON_POSTGRES:
        assert exclusion_constraints() == EXCLUSION_CONSTRAINTS
    if widened:
        request.getfixturevalue("race_window")
    prepare, expected = _scenario(scenario, place, members, day)

    outcome = hammer(_book, prepare=prepare)

    assert outcome.errors == []
    assert dict(outcome.labels) == expected
    assert Booking.objects.active().count() == 1


@postgres_only
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_control_postgres_without_the_guard_the_hammer_double_books(
    scenario, place, members, day, without_guard
):
    """The same hammer with the guard bypassed (no exclusion constraints, and the checks blind to what the
    concurrent attempts of their round do): every thread of the first round gets in, so the assertions
    above can fail. Later rounds see those bookings and are refused."""
    prepare, _expected = _scenario(scenario, place, members, day)

    outcome = hammer(_book, prepare=prepare, before_each_round=without_guard.new_round)

    assert outcome.errors == []
    assert dict(outcome.labels) == {"booked": THREADS, "slot_taken": TOTAL - THREADS}
    assert Booking.objects.active().count() == THREADS


@sqlite_only
def test_control_sqlite_deferred_transactions_fail_with_database_is_locked(
    place, members, day, race_window, monkeypatch
):
    """The same hammer with SQLite's guard removed (DEFERRED instead of IMMEDIATE transactions): a reader
    that tries to become a writer after another writer committed gets "database is locked" at once, the
    busy timeout does not help. The hammer above can therefore fail."""
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "transaction_mode", "DEFERRED")
    prepare, _expected = _scenario("desk_day", place, members, day)

    outcome = hammer(_book, prepare=prepare)

    locked = [error for error in outcome.errors if "database is locked" in error]
    assert locked, outcome
    assert Booking.objects.active().count() == 1


class _RollBack(Exception):
    pass


# Threads booking behind the rival: enough to guarantee the deadlocks (each deadlock costs PostgreSQL's
# deadlock_timeout, 1 s), few enough to keep the test short while the bug is there.
RIVALS = 4


@postgres_only
def test_a_rolled_back_rival_leaves_one_booking_and_no_deadlock(place, members, day):
    """A transaction holds an uncommitted booking of the desk-day while threads book it (their friendly
    checks cannot see it, so they all insert and wait in the exclusion constraint's check), then rolls
    back. The threads must end with one booking and clean conflicts, not with "deadlock detected": each
    of them waiting for another's uncommitted row. (The plain hammer above runs into the same deadlocks
    now and then, when two inserts land before either has checked; this makes them certain.)"""
    _space, desks, _room = place
    prepare, _expected = _scenario("desk_day", place, members, day)
    holding = threading.Event()
    rival_errors: list[str] = []

    def rival():
        try:
            with transaction.atomic():
                user, desk = User.objects.get(pk=members[-1].pk), Resource.objects.get(pk=desks[0].pk)
                slot = services.desk_slot(resource=desk, day=day, part=DayPart.FULL_DAY)
                Booking.objects.create(
                    resource=desk,
                    space_id=desk.space_id,
                    member=user,
                    start=slot.start,
                    end=slot.end,
                    local_date=day,
                    part=slot.part,
                    is_desk=True,
                )
                holding.set()
                # Roll back once every booking thread is stuck behind a lock (or after a few seconds).
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and _waiting_on_locks() < RIVALS:
                    time.sleep(0.05)
                raise _RollBack
        except _RollBack:
            pass
        except Exception as exc:
            rival_errors.append(repr(exc))
        finally:
            holding.set()
            connections.close_all()

    rival_thread = threading.Thread(target=rival, name="rival")
    rival_thread.start()
    try:
        assert holding.wait(timeout=30)
        outcome = hammer(_book, prepare=prepare, threads=RIVALS, attempts=1)
    finally:
        rival_thread.join(timeout=30)
    assert rival_errors == []
    assert outcome.errors == []
    assert dict(outcome.labels) == {"booked": 1, "slot_taken": RIVALS - 1}
    assert Booking.objects.active().count() == 1


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps serving the activity it read first, unless told to forget it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
