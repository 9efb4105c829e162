"""Pay-per-use by card: meeting-room hours beyond a plan, and a day pass bought from the grid, are paid
in Stripe Checkout right after booking when card payments are on (the fake Stripe server here)."""

from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import time_machine

from billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from bookings.models import Booking
from tests.bookings.conftest import NOW
from tests.factories import PlanFactory

TUESDAY = date(2026, 11, 24)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=True):
        yield


def test_a_charged_room_booking_is_paid_by_card_right_after(client, camille, room, fake_stripe):
    room.hourly_price = Decimal("20.00")
    room.save()
    client.force_login(camille)
    url = f"/spaces/{room.space.slug}/rooms/{room.pk}/book/"
    response = client.post(url, {"date": TUESDAY.isoformat(), "start_time": "10:00", "end_time": "12:00"})
    booking = Booking.objects.get()
    invoice = Invoice.objects.get(idempotency_key=f"booking:{booking.pk}:charge")
    assert response["Location"] == f"/accounts/invoices/{invoice.number}/pay/"
    page = client.get(response["Location"])
    assert invoice.number in page.content.decode()
    response = client.post(f"/accounts/invoices/{invoice.number}/pay/")
    assert response.status_code == 303
    session_id = urlsplit(response["Location"]).path.rsplit("/", 1)[-1]
    fake_stripe.complete_checkout(session_id)
    response = client.get("/accounts/payments/return/", {"session_id": session_id})
    assert response["Location"] == f"/accounts/invoices/{invoice.number}/"
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert Payment.objects.get(invoice=invoice, status=PaymentStatus.SUCCEEDED).amount == invoice.gross


def test_a_day_pass_bought_from_the_grid_goes_to_card_payment(client, camille, desk, fake_stripe):
    desk.space.desks_need_pass = True
    desk.space.save()
    plan = PlanFactory(space=desk.space, name="Journée", kind="day_pass", unit_price=Decimal("20.00"))
    client.force_login(camille)
    choice = f"desk:{desk.pk}:full_day"
    response = client.post(
        f"/spaces/{desk.space.slug}/book/day-pass/?date={TUESDAY.isoformat()}&choice={choice}",
        {"date": TUESDAY.isoformat(), "choice": choice, "plan": plan.pk, "start_now": "on"},
    )
    invoice = Invoice.objects.get(member=camille)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == f"/accounts/invoices/{invoice.number}/pay/"
    assert Booking.objects.filter(member=camille).count() == 1
