"""Credits under concurrency: a member's last day credit books one desk-day, never two, and included
meeting-room minutes are never spent twice, however many requests arrive at once. Runs on both
databases (SQLite serialises writers with IMMEDIATE transactions; PostgreSQL locks the grants)."""

from datetime import time, timedelta
from decimal import Decimal
from time import sleep

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import CreditEntry, CreditKind, Invoice
from bookings import services
from bookings.errors import BookingError
from spaces import localtime
from tests.concurrency.conftest import THREADS, hammer, postgres_only
from tests.factories import PlanFactory, ResourceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid_space(place):
    space, desks, room = place
    space.desks_need_pass = True
    space.booking_window_days = 7 * THREADS + 7  # one booking per week for every thread
    space.save()
    return space, desks, room


def buy(member, plan):
    now = timezone.now()
    billing_services.pass_purchase(
        member=member, plan=plan, start=localtime.local_date(now, plan.space.tz), now=now
    )


def _label(call) -> str:
    try:
        call()
    except BookingError as error:
        return error.code
    return "booked"


def test_the_last_day_credit_books_one_desk_day_only(paid_space, members, day):
    space, desks, _room = paid_space
    member = members[0]
    plan = PlanFactory(space=space, kind="pack_10", desk_days=1)
    buy(member, plan)
    days = [day + timedelta(days=7 * n) for n in range(THREADS)]  # same weekday, different weeks

    def attempt(_state, index, _round):
        slot = services.desk_slot(resource=desks[index], day=days[index], part="full_day")
        return _label(lambda: services.booking_create(member=member, slot=slot, now=timezone.now()))

    outcome = hammer(attempt, attempts=1)
    assert outcome.errors == []
    assert outcome.labels == {"booked": 1, "not_entitled": THREADS - 1}
    balance = CreditEntry.objects.filter(member=member, kind=CreditKind.DESK_DAY).aggregate(t=Sum("amount"))
    assert balance["t"] == 0


@pytest.fixture
def slow_balances(monkeypatch):
    """Widens the window between reading a grant's balance and drawing on it, where a missing lock
    would let two bookings spend the same minutes."""
    read = billing_selectors.credit_grants

    def slow(**kwargs):
        rows = read(**kwargs)
        sleep(0.05)
        return rows

    monkeypatch.setattr(billing_selectors, "credit_grants", slow)


def test_included_room_minutes_are_never_spent_twice(paid_space, members, day, slow_balances):
    space, _desks, room = paid_space
    # Different rooms on different days, so that only the grants' lock stands between the bookings
    # (neither a room's lock nor the wait on an overlapping uncommitted booking of the same member).
    rooms = [
        ResourceFactory(zone=room.zone, name=f"Salle {n}", kind="meeting_room", hourly_price=Decimal("30.00"))
        for n in range(8)
    ]
    member = members[0]
    plan = PlanFactory(space=space, kind="monthly", room_hours=1)
    buy(member, plan)
    rooms_booked = 8

    def attempt(_state, index, _round):
        if index >= rooms_booked:
            return "idle"
        slot = services.room_slot(resource=rooms[index], day=day, start_time=time(9), end_time=time(10))
        return _label(lambda: services.booking_create(member=member, slot=slot, now=timezone.now()))

    outcome = hammer(attempt, attempts=1)
    assert outcome.errors == []
    assert outcome.labels["booked"] == rooms_booked
    used = -CreditEntry.objects.filter(member=member, kind=CreditKind.ROOM_MINUTES, amount__lt=0).aggregate(
        t=Sum("amount")
    )["t"]
    assert used == 60
    # One booking drew the included hour; the seven others were invoiced one hour each.
    charges = Invoice.objects.filter(idempotency_key__endswith=":charge")
    assert charges.count() == rooms_booked - 1
    assert {invoice.net for invoice in charges} == {Decimal("30.00")}


@postgres_only
def test_control_without_the_grants_lock_the_same_minutes_are_spent_twice(
    paid_space, members, day, slow_balances, monkeypatch
):
    monkeypatch.setattr(billing_services, "_lock_grants", lambda member_id, kind: None)
    with pytest.raises(AssertionError, match=r"assert .* == 60"):
        test_included_room_minutes_are_never_spent_twice(paid_space, members, day, None)
