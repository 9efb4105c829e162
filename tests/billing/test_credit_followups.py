"""Credit notes lower what members see and are chased for; a manager's restore gives a new grace
period; an extended pass's credits start with the pass."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from billing import dunning, selectors, services
from billing.models import Pass, PassStatus
from tests.factories import ManagerFactory, PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


def at(day):
    return datetime(day.year, day.month, day.day, 10, tzinfo=PARIS)


@pytest.fixture
def setup():
    space = SpaceFactory(invoice_prefix="PAR")
    plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("250"), room_hours=4)
    member = UserFactory(
        email="camille@example.com", member__display_name="Camille", member__preferred_language="en"
    )
    return space, plan, member, ManagerFactory(spaces=[space])


def test_a_restored_pass_gets_a_new_grace_period(setup, settings):
    settings.BILLING_GRACE_DAYS = 10
    _space, plan, member, manager = setup
    pass_obj = services.pass_purchase(
        member=member, plan=plan, start=date(2026, 3, 2), now=at(date(2026, 3, 2))
    )
    dunning.run(at(date(2026, 3, 3)))
    dunning.run(at(date(2026, 3, 13)))
    assert Pass.objects.get(pk=pass_obj.pk).status == PassStatus.SUSPENDED
    services.pass_restore(pass_obj=pass_obj, by=manager, reason="Promis", now=at(date(2026, 3, 14)))
    for day in range(14, 24):
        dunning.run(at(date(2026, 3, day)))
        assert Pass.objects.get(pk=pass_obj.pk).status != PassStatus.SUSPENDED, day
    dunning.run(at(date(2026, 3, 24)))
    assert Pass.objects.get(pk=pass_obj.pk).status == PassStatus.SUSPENDED


def test_reminders_ask_for_what_is_left_after_a_partial_credit(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    _space, plan, member, manager = setup
    pass_obj = services.pass_purchase(
        member=member, plan=plan, start=date(2026, 3, 2), now=at(date(2026, 3, 2))
    )
    invoice = pass_obj.periods.get().invoice
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("100.00"), reason="x", today=date(2026, 3, 2), by=manager
    )
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dunning.run(at(date(2026, 3, 3)))
    assert "200.00 EUR to pay" in mailoutbox[0].body


def test_room_hours_stay_usable_after_an_extension_moves_the_anchor(setup):
    space, plan, member, manager = setup
    today = date(2026, 3, 10)
    services.pass_purchase(member=member, plan=plan, start=today, now=at(today))
    services.pass_extend(pass_obj=Pass.objects.get(), days=10, by=manager, reason="Geste")
    quote = selectors.room_quote(
        member_id=member.pk,
        space=space,
        day=today + timedelta(days=1),
        minutes=60,
        hourly_price=Decimal("20"),
    )
    assert quote.included_minutes == 60


def test_the_member_sees_what_is_left_to_pay(setup, client):
    _space, plan, member, manager = setup
    pass_obj = services.pass_purchase(
        member=member, plan=plan, start=date(2026, 3, 2), now=at(date(2026, 3, 2))
    )
    invoice = pass_obj.periods.get().invoice
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("100.00"), reason="x", today=date(2026, 3, 2), by=manager
    )
    client.force_login(member)
    client.cookies["django_language"] = "en"
    listing = client.get(reverse("billing:invoices")).content.decode()
    assert "200.00" in listing
    page = client.get(reverse("billing:invoice", args=[invoice.number])).content.decode()
    assert "200.00" in page
    assert "Already credited" in page
