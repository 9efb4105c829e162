"""Entitlements in booking: passes, day credits from packs, dedicated desks, room hours, suspension."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from billing import services as billing_services
from billing.models import CreditEntry, CreditKind, DocumentKind, Invoice, InvoiceStatus, PassStatus
from bookings import services
from bookings.errors import BookingError
from bookings.models import DayPart
from tests.bookings.conftest import NOW
from tests.factories import (
    ManagerAssignmentFactory,
    ManagerFactory,
    PlanFactory,
    ResourceFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db
TODAY = NOW.date()  # Monday 23 November 2026
TUESDAY = TODAY + timedelta(days=1)
WEDNESDAY = TODAY + timedelta(days=2)  # beyond the 24-hour cancellation cut-off


@pytest.fixture
def paris(db):
    # The shared fixture's space lets anyone book; here desks need a pass, as in a real space.
    return SpaceFactory(
        name="Canal", slug="canal", city="Paris", weekdays=[0, 1, 2, 3, 4, 5, 6], desks_need_pass=True
    )


def buy(member, plan, start=TODAY):
    return billing_services.pass_purchase(member=member, plan=plan, start=start, now=NOW)


def book_desk(member, desk, day=TUESDAY, part=DayPart.FULL_DAY):
    return services.booking_create(
        member=member, slot=services.desk_slot(resource=desk, day=day, part=part), now=NOW
    )


def desk_credits(member) -> int:
    return sum(
        CreditEntry.objects.filter(member=member, kind=CreditKind.DESK_DAY).values_list("amount", flat=True)
    )


def test_without_a_pass_a_desk_is_refused_with_a_clear_code(camille, desk):
    with pytest.raises(BookingError) as error:
        book_desk(camille, desk)
    assert error.value.code == "not_entitled"
    assert error.value.status == 403


def test_a_space_whose_desks_are_free_needs_no_pass(camille, desk, paris):
    paris.desks_need_pass = False
    paris.save()
    desk.refresh_from_db()
    assert book_desk(camille, desk).is_active


def test_a_monthly_pass_covers_its_period_and_next_months_while_it_renews(camille, desk, paris):
    pass_obj = buy(camille, PlanFactory(space=paris, kind="monthly"))
    assert book_desk(camille, desk).is_active
    # 23 December is in the second period, which does not exist yet: the pass renews by itself.
    assert book_desk(camille, desk, day=date(2026, 12, 23)).is_active
    billing_services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=False)
    with pytest.raises(BookingError) as error:
        book_desk(camille, desk, day=date(2026, 12, 24))
    assert error.value.code == "not_entitled"


def test_a_pass_of_another_space_counts_only_with_network_access(camille, desk, paris):
    lyon = SpaceFactory(slug="lyon", invoice_prefix="LYO")
    plan = PlanFactory(space=lyon, kind="monthly")
    buy(camille, plan)
    with pytest.raises(BookingError):
        book_desk(camille, desk)
    plan.network_access = True
    plan.save()
    assert book_desk(camille, desk).is_active


def test_a_pack_credit_is_drawn_on_booking_and_returned_on_cancellation(camille, desk, paris):
    buy(camille, PlanFactory(space=paris, kind="pack_10", desk_days=10, unit_price=Decimal("180.00")))
    assert desk_credits(camille) == 10
    booking = book_desk(camille, desk, day=WEDNESDAY)
    assert desk_credits(camille) == 9
    services.booking_cancel(booking=booking, by=camille, now=NOW)
    assert desk_credits(camille) == 10
    # Releasing twice gives nothing more back.
    billing_services.entitlement_release(reference=f"booking:{booking.pk}", today=TODAY)
    assert desk_credits(camille) == 10


def test_a_manager_cancellation_returns_the_credit_too(camille, desk, paris):
    buy(camille, PlanFactory(space=paris, kind="pack_10", desk_days=10))
    booking = book_desk(camille, desk)
    manager = ManagerFactory()
    ManagerAssignmentFactory(user=manager, space=paris)
    services.booking_cancel(booking=booking, by=manager, now=NOW, reason="Dégât des eaux")
    assert desk_credits(camille) == 10


def test_the_last_credit_books_one_day_only(camille, desk, desk2, paris):
    buy(camille, PlanFactory(space=paris, kind="pack_10", desk_days=1))
    book_desk(camille, desk, day=TUESDAY)
    with pytest.raises(BookingError) as error:
        book_desk(camille, desk2, day=TUESDAY + timedelta(days=1))
    assert error.value.code == "not_entitled"
    assert desk_credits(camille) == 0


def test_credits_expire_with_their_pack(camille, desk, paris):
    buy(camille, PlanFactory(space=paris, kind="pack_10", desk_days=10, validity_months=1))
    with pytest.raises(BookingError):
        book_desk(camille, desk, day=date(2027, 1, 5))


def test_a_dedicated_desk_needs_a_dedicated_plan(camille, open_space, paris):
    dedicated = ResourceFactory(zone=open_space, name="Poste fixe 1", kind="dedicated_desk")
    buy(camille, PlanFactory(space=paris, kind="monthly"))
    with pytest.raises(BookingError) as error:
        book_desk(camille, dedicated)
    assert error.value.code == "dedicated_plan_needed"
    buy(camille, PlanFactory(space=paris, kind="monthly", name="Résident", desk_access="dedicated_desk"))
    assert book_desk(camille, dedicated).is_active


def test_a_suspended_member_keeps_bookings_but_makes_no_new_ones(camille, desk, room, paris):
    pass_obj = buy(camille, PlanFactory(space=paris, kind="monthly"))
    kept = book_desk(camille, desk)
    billing_services.pass_transition(pass_obj, PassStatus.PAST_DUE)
    # Past due: still usable until the grace period ends.
    assert book_desk(camille, desk, day=TUESDAY + timedelta(days=1)).is_active
    billing_services.pass_transition(pass_obj, PassStatus.SUSPENDED)
    with pytest.raises(BookingError) as error:
        book_desk(camille, desk, day=TUESDAY + timedelta(days=2))
    assert error.value.code == "suspended"
    with pytest.raises(BookingError):
        services.booking_create(
            member=camille,
            slot=services.room_slot(resource=room, day=TUESDAY, start_time=time(10), end_time=time(11)),
            now=NOW,
        )
    kept.refresh_from_db()
    assert kept.is_active
    # Paying restores at once.
    invoice = pass_obj.periods.get().invoice
    billing_services.payment_record(
        invoice=invoice, amount=invoice.gross, method="transfer", received_on=TODAY, by=None
    )
    assert book_desk(camille, desk, day=TUESDAY + timedelta(days=2)).is_active


def test_room_hours_beyond_the_included_ones_are_invoiced_and_credited_back(camille, room, paris):
    room.hourly_price = Decimal("20.00")
    room.save()
    buy(camille, PlanFactory(space=paris, kind="monthly", room_hours=2))
    slot = services.room_slot(resource=room, day=WEDNESDAY, start_time=time(9), end_time=time(12))
    booking = services.booking_create(member=camille, slot=slot, now=NOW)
    charge = Invoice.objects.get(idempotency_key=f"booking:{booking.pk}:charge")
    line = charge.lines.get()
    assert (line.quantity, line.unit_price, charge.gross) == (
        Decimal("1.00"),
        Decimal("20.00"),
        Decimal("24.00"),
    )
    assert "Salle Jacquard" in line.description
    minutes_left = sum(
        CreditEntry.objects.filter(member=camille, kind=CreditKind.ROOM_MINUTES).values_list(
            "amount", flat=True
        )
    )
    assert minutes_left == 0
    services.booking_cancel(booking=booking, by=camille, now=NOW)
    note = Invoice.objects.get(kind=DocumentKind.CREDIT_NOTE, corrects=charge)
    assert note.gross == Decimal("-24.00")
    assert note.number.startswith(f"{paris.invoice_prefix}-AV-2026-")
    charge.refresh_from_db()
    assert charge.status == InvoiceStatus.CREDITED
    assert not charge.payments.exists()
    minutes_left = sum(
        CreditEntry.objects.filter(member=camille, kind=CreditKind.ROOM_MINUTES).values_list(
            "amount", flat=True
        )
    )
    assert minutes_left == 120


def test_a_room_within_included_hours_costs_nothing(camille, room, paris):
    room.hourly_price = Decimal("20.00")
    room.save()
    buy(camille, PlanFactory(space=paris, kind="monthly", room_hours=4))
    slot = services.room_slot(resource=room, day=TUESDAY, start_time=time(9), end_time=time(11))
    booking = services.booking_create(member=camille, slot=slot, now=NOW)
    assert not Invoice.objects.filter(idempotency_key=f"booking:{booking.pk}:charge").exists()


def test_a_refused_booking_draws_nothing(camille, yanis, desk, paris):
    buy(camille, PlanFactory(space=paris, kind="pack_10", desk_days=10))
    buy(yanis, PlanFactory(space=paris, kind="pack_10", desk_days=10, name="Pack 2"))
    book_desk(yanis, desk)
    with pytest.raises(BookingError) as error:
        book_desk(camille, desk)
    assert error.value.code == "slot_taken"
    assert desk_credits(camille) == 10


def test_upgrading_a_pack_to_a_monthly_pass_credits_the_unused_days(camille, desk, paris):
    pack_plan = PlanFactory(space=paris, kind="pack_10", desk_days=10, unit_price=Decimal("180.00"))
    monthly = PlanFactory(space=paris, kind="monthly", unit_price=Decimal("250.00"), name="Mensuel")
    pack = buy(camille, pack_plan)
    invoice = pack.periods.get().invoice
    with pytest.raises(billing_services.BillingError) as error:
        billing_services.pass_upgrade(pass_obj=pack, plan=monthly, now=NOW)
    assert error.value.code == "unpaid_invoice"
    billing_services.payment_record(
        invoice=invoice, amount=invoice.gross, method="cash", received_on=TODAY, by=None
    )
    for day in (
        TUESDAY,
        TUESDAY + timedelta(days=1),
        TUESDAY + timedelta(days=2),
        TUESDAY + timedelta(days=3),
    ):
        book_desk(camille, desk, day=day)
    new_pass = billing_services.pass_upgrade(pass_obj=pack, plan=monthly, now=NOW)
    first = new_pass.periods.get().invoice
    # 6 of 10 days unused: 108.00 excl. VAT credited against 250.00.
    assert [line.net for line in first.lines.order_by("position")] == [Decimal("250.00"), Decimal("-108.00")]
    assert first.gross == Decimal("170.40")
    pack.refresh_from_db()
    assert (pack.status, pack.auto_renew, pack.ended_on) == (PassStatus.CANCELLED, False, TODAY)
    assert desk_credits(camille) == 0
    # The monthly pass now covers the desk.
    assert book_desk(camille, desk, day=TUESDAY + timedelta(days=4)).is_active


def test_a_downgrade_is_refused(camille, paris):
    monthly = PlanFactory(space=paris, kind="monthly")
    pack_plan = PlanFactory(space=paris, kind="pack_10", desk_days=10)
    pass_obj = buy(camille, monthly)
    with pytest.raises(billing_services.BillingError) as error:
        billing_services.pass_upgrade(pass_obj=pass_obj, plan=pack_plan, now=NOW)
    assert error.value.code == "not_an_upgrade"


def test_the_manager_sees_future_bookings_of_suspended_members_flagged(
    client, camille, yanis, desk, desk2, paris
):
    from django.urls import reverse

    pass_obj = buy(camille, PlanFactory(space=paris, kind="monthly"))
    buy(yanis, PlanFactory(space=paris, kind="monthly", name="Mensuel 2"))
    book_desk(camille, desk)
    book_desk(yanis, desk2)
    billing_services.pass_transition(pass_obj, PassStatus.PAST_DUE)
    billing_services.pass_transition(pass_obj, PassStatus.SUSPENDED)
    manager = ManagerFactory()
    ManagerAssignmentFactory(user=manager, space=paris)
    client.force_login(manager)
    url = reverse("admin:bookings_booking_changelist")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count("Suspended (unpaid)") == 1
    flagged = client.get(url, {"suspended": "yes"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "camille@example.com" in flagged
    assert "yanis@example.com" not in flagged
