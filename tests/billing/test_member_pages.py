"""The member's billing pages: plans with the ladder and savings hint, buying, their passes (stop the
renewal, upgrade), and buying a day pass from the booking grid then getting the desk."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing_services
from billing.models import Invoice, Pass, PassStatus, PriceTier
from bookings.models import Booking
from tests.bookings.conftest import NOW
from tests.factories import PlanFactory, ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

pytestmark = pytest.mark.django_db
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def space():
    return SpaceFactory(slug="lille", invoice_prefix="LIL", desks_need_pass=True, weekdays=range(7))


@pytest.fixture
def catalogue(space):
    day = PlanFactory(
        space=space, name="Pass journée", kind="day_pass", unit_price=Decimal("25.00"), position=0
    )
    pack = PlanFactory(
        space=space, name="Carnet 10", kind="pack_10", desk_days=10, unit_price=Decimal("200.00"), position=1
    )
    monthly = PlanFactory(
        space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"), position=2
    )
    PriceTier.objects.create(plan=monthly, first_period=4, unit_price=Decimal("230.00"))
    return {"day": day, "pack": pack, "monthly": monthly}


@pytest.fixture
def member(client):
    user = UserFactory(email="camille@example.com", member__display_name="Camille")
    client.force_login(user)
    return user


@pytest.fixture
def desk(space):
    return ResourceFactory(zone=ZoneFactory(space=space, name="Open space"), name="Bureau 01")


def test_the_plans_page_shows_the_ladder_with_per_day_prices(client, space, catalogue):
    response = client.get(reverse("billing:plans", kwargs={"slug": "lille"}), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    for name in ("Pass journée", "Carnet 10", "Mensuel"):
        assert name in page
    assert "€300.00" in page  # 250.00 + 20% VAT
    assert "€276.00" in page  # from the 4th month: 230.00 + VAT
    assert "€15.00 per day" in page  # 300.00 over 20 working days


def test_the_savings_hint_counts_the_days_the_member_paid_one_by_one(client, member, space, catalogue):
    for offset in range(11):
        day = TODAY - timedelta(days=offset)
        billing_services.pass_purchase(
            member=member, plan=catalogue["day"], start=day, now=NOW - timedelta(days=offset)
        )
    page = client.get(reverse("billing:plans", kwargs={"slug": "lille"}), HTTP_ACCEPT_LANGUAGE="en")
    # 11 day passes at 30.00 = 330.00 against 300.00 for the month.
    assert "would have saved you €30.00" in page.content.decode()


def test_no_hint_when_day_passes_cost_less_than_the_month(client, member, space, catalogue):
    billing_services.pass_purchase(member=member, plan=catalogue["day"], start=TODAY, now=NOW)
    page = client.get(reverse("billing:plans", kwargs={"slug": "lille"}))
    assert 'data-testid="savings-hint"' not in page.content.decode()


def test_buying_a_monthly_pass_from_its_page(client, member, catalogue):
    url = reverse("billing:buy", kwargs={"slug": "lille", "plan_id": catalogue["monthly"].pk})
    assert client.get(url).status_code == 200
    response = client.post(url, {"start": TODAY.isoformat(), "start_now": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:passes")
    pass_obj = Pass.objects.get(member=member)
    assert pass_obj.plan == catalogue["monthly"]
    assert Invoice.objects.filter(member=member).count() == 1
    passes = client.get(reverse("billing:passes"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Mensuel" in passes
    assert "LIL-2026-00001" in passes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "2026-11-01", "start_now": "on"}, "cannot start in the past"),
        ({"start": "2027-06-01", "start_now": "on"}, "at most 60 days ahead"),
        ({"start": "not a date", "start_now": "on"}, "Enter a valid date"),
        ({"start": "2026-11-23"}, "This field is required"),
    ],
)
def test_a_bad_purchase_is_a_form_error_and_buys_nothing(client, member, catalogue, data, message):
    url = reverse("billing:buy", kwargs={"slug": "lille", "plan_id": catalogue["monthly"].pk})
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Pass.objects.exists()


def test_a_plan_not_on_sale_or_of_another_space_is_404(client, member, catalogue):
    other = PlanFactory(space=SpaceFactory(slug="paris", invoice_prefix="PAR"))
    assert (
        client.get(reverse("billing:buy", kwargs={"slug": "lille", "plan_id": other.pk})).status_code == 404
    )
    catalogue["monthly"].is_active = False
    catalogue["monthly"].save()
    url = reverse("billing:buy", kwargs={"slug": "lille", "plan_id": catalogue["monthly"].pk})
    assert client.post(url, {"start": TODAY.isoformat(), "start_now": "on"}).status_code == 404


def test_stopping_and_resuming_the_renewal(client, member, catalogue):
    pass_obj = billing_services.pass_purchase(member=member, plan=catalogue["monthly"], start=TODAY, now=NOW)
    url = reverse("billing:auto_renew", kwargs={"pass_id": pass_obj.pk})
    client.post(url, {"auto_renew": "0"})
    pass_obj.refresh_from_db()
    assert not pass_obj.auto_renew
    page = client.get(reverse("billing:passes"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Does not renew" in page
    client.post(url, {"auto_renew": "1"})
    pass_obj.refresh_from_db()
    assert pass_obj.auto_renew
    page = client.get(reverse("billing:passes"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Renews on Dec. 23, 2026 for €300.00." in page


def test_another_members_pass_is_404(client, member, catalogue):
    other = UserFactory(member__display_name="Yanis")
    pass_obj = billing_services.pass_purchase(member=other, plan=catalogue["monthly"], start=TODAY, now=NOW)
    assert client.post(reverse("billing:auto_renew", kwargs={"pass_id": pass_obj.pk})).status_code == 404
    assert client.get(reverse("billing:upgrade", kwargs={"pass_id": pass_obj.pk})).status_code == 404


def test_upgrading_a_pack_from_the_passes_page(client, member, catalogue):
    pack = billing_services.pass_purchase(member=member, plan=catalogue["pack"], start=TODAY, now=NOW)
    invoice = pack.periods.get().invoice
    url = reverse("billing:upgrade", kwargs={"pass_id": pack.pk})
    response = client.post(url, {"plan": catalogue["monthly"].pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Settle this pass" in response.content.decode()
    billing_services.payment_record(
        invoice=invoice, amount=invoice.gross, method="transfer", received_on=TODAY, by=None
    )
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "€200.00" in page  # nothing used yet: the whole pack is credited
    # The day pass is a shorter commitment: not offered, and refused if posted.
    response = client.post(url, {"plan": catalogue["day"].pk})
    assert response.status_code == 200
    response = client.post(url, {"plan": catalogue["monthly"].pk})
    assert response.status_code == 302
    pack.refresh_from_db()
    assert pack.status == PassStatus.CANCELLED
    new_invoice = Invoice.objects.filter(member=member).order_by("-sequence").first()
    assert new_invoice.net == Decimal("50.00")


def test_the_grid_offers_a_day_pass_then_books_the_desk(client, member, catalogue, desk):
    day = date(2026, 11, 25)
    choice = f"desk:{desk.pk}:full_day"
    response = client.post(
        reverse("bookings:book", kwargs={"slug": "lille"}), {"date": day, "choice": choice}
    )
    assert response.status_code == 302
    assert reverse("bookings:day_pass", kwargs={"slug": "lille"}) in response["Location"]
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "Pass journée" in page.content.decode()
    assert "€30.00" in page.content.decode()
    url = reverse("bookings:day_pass", kwargs={"slug": "lille"})
    # Without consent: a form error, nothing bought.
    response = client.post(url, {"date": day, "choice": choice, "plan": catalogue["day"].pk})
    assert response.status_code == 200
    assert not Pass.objects.exists()
    response = client.post(
        url, {"date": day, "choice": choice, "plan": catalogue["day"].pk, "start_now": "on"}
    )
    assert response.status_code == 302
    booking = Booking.objects.get(member=member)
    assert (booking.resource, booking.local_date) == (desk, day)
    pass_obj = Pass.objects.get(member=member)
    assert pass_obj.periods.get().start_date == day


def test_if_the_desk_went_meanwhile_the_day_pass_is_not_bought(client, member, catalogue, desk):
    day = date(2026, 11, 25)
    rival = UserFactory(member__display_name="Yanis")
    billing_services.pass_purchase(member=rival, plan=catalogue["monthly"], start=TODAY, now=NOW)
    from bookings import services as booking_services

    booking_services.booking_create(
        member=rival, slot=booking_services.desk_slot(resource=desk, day=day, part="full_day"), now=NOW
    )
    url = reverse("bookings:day_pass", kwargs={"slug": "lille"})
    response = client.post(
        url,
        {"date": day, "choice": f"desk:{desk.pk}:full_day", "plan": catalogue["day"].pk, "start_now": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "just been taken" in response.content.decode()
    assert not Pass.objects.filter(member=member).exists()
    assert not Invoice.objects.filter(member=member).exists()


def test_a_forged_day_pass_request_is_refused_cleanly(client, member, catalogue, desk):
    url = reverse("bookings:day_pass", kwargs={"slug": "lille"})
    assert client.get(url, {"date": "nope", "choice": "x"}).status_code == 302
    response = client.post(url, {"date": "2026-11-25", "choice": f"desk:{desk.pk}:full_day", "plan": "999"})
    assert response.status_code == 200
    assert not Pass.objects.exists()


def test_the_day_pass_page_keeps_the_plan_chosen_after_an_error(client, member, catalogue, desk, space):
    afternoon = PlanFactory(space=space, name="Demi-journée", kind="day_pass", unit_price=Decimal("15.00"))
    url = reverse("bookings:day_pass", kwargs={"slug": "lille"})
    choice = {"date": "2026-11-25", "choice": f"desk:{desk.pk}:full_day"}
    fresh = client.get(url, choice).content.decode()
    assert f'value="{catalogue["day"].pk}" checked' in fresh
    response = client.post(url, {**choice, "plan": afternoon.pk}).content.decode()
    assert f'value="{afternoon.pk}" checked' in response
    assert f'value="{catalogue["day"].pk}" checked' not in response
