"""The billing admin a space manager uses: the price ladder of plans, read-only invoices, recording a
payment, passes, payments and notices, each scoped to the spaces the manager runs."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from billing import services
from billing.models import (
    Invoice,
    InvoiceStatus,
    Notice,
    Pass,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PriceTier,
)
from tests.factories import ManagerFactory, PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 10, tzinfo=PARIS)
TODAY = NOW.date()

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def paris():
    return SpaceFactory(name="Paris Bastille", slug="paris", invoice_prefix="PAR")


@pytest.fixture
def lille():
    return SpaceFactory(name="Lille Centre", slug="lille", invoice_prefix="LIL")


@pytest.fixture
def yanis(paris):
    return ManagerFactory(email="yanis@example.com", spaces=[paris])


@pytest.fixture
def as_yanis(english, yanis):
    english.force_login(yanis)
    return english


@pytest.fixture
def member():
    return UserFactory(member__display_name="Camille Martin", member__billing_address="3 rue Nationale")


def monthly_plan(space):
    plan = PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))
    PriceTier.objects.create(plan=plan, first_period=4, unit_price=Decimal("230.00"))
    PriceTier.objects.create(plan=plan, first_period=13, unit_price=Decimal("210.00"))
    return plan


@pytest.fixture
def monthly(paris):
    return monthly_plan(paris)


def buy(member, plan, start=TODAY, now=NOW) -> Pass:
    return services.pass_purchase(member=member, plan=plan, start=start, now=now)


def invoice_of(pass_obj: Pass) -> Invoice:
    return pass_obj.periods.get(number=1).invoice


def html(response) -> str:
    return response.content.decode()


# --- plans and their ladder --------------------------------------------------------------------------


def plan_data(plan, tiers, **changes):
    """The change form of `plan` as posted: `tiers` are (tier or None, first period, price, delete),
    the existing tiers first, as the formset numbers them."""
    data = {
        "space": plan.space_id,
        "name": plan.name,
        "kind": plan.kind,
        "description": plan.description,
        "position": plan.position,
        "is_active": "on",
        "unit_price": str(plan.unit_price),
        "nominal_days": "",
        "desk_access": plan.desk_access,
        "desk_days": plan.desk_days,
        "validity_months": plan.validity_months,
        "room_hours": plan.room_hours,
        "tiers-TOTAL_FORMS": len(tiers),
        "tiers-INITIAL_FORMS": sum(1 for tier, *_ in tiers if tier is not None),
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }
    for index, (tier, first_period, price, delete) in enumerate(tiers):
        data[f"tiers-{index}-id"] = tier.pk if tier else ""
        data[f"tiers-{index}-plan"] = plan.pk or ""
        data[f"tiers-{index}-first_period"] = first_period
        data[f"tiers-{index}-unit_price"] = price
        if delete:
            data[f"tiers-{index}-DELETE"] = "on"
    data.update(changes)
    return data


def current_tiers(plan):
    return [
        (tier, tier.first_period, str(tier.unit_price), False) for tier in plan.tiers.order_by("first_period")
    ]


def test_the_plan_page_previews_the_ladder_with_vat_and_per_day_prices(as_yanis, monthly):
    page = html(as_yanis.get(reverse("admin:billing_plan_change", args=[monthly.pk])))
    ladder = page[page.index('id="price-ladder"') :]
    # 20 working days a month, VAT 20 %: 250 -> 300 incl. VAT, 12.50 / 15.00 a day; then 230 and 210.
    for text in ["Months 1 to 3", "250.00 €", "300.00 €", "12.50 €", "15.00 €"]:
        assert text in ladder
    for text in ["Months 4 to 12", "230.00 €", "276.00 €", "11.50 €", "13.80 €"]:
        assert text in ladder
    for text in ["From month 13", "210.00 €", "252.00 €", "10.50 €", "12.60 €"]:
        assert text in ladder
    assert "Periods already sold keep the price they were sold at" in page


def test_a_plan_without_tiers_shows_its_single_price(as_yanis, paris):
    day_pass = PlanFactory(space=paris, name="Journée", kind="day_pass", unit_price=Decimal("25.00"))
    page = html(as_yanis.get(reverse("admin:billing_plan_change", args=[day_pass.pk])))
    ladder = page[page.index('id="price-ladder"') :]
    assert "Single price" in ladder
    assert "25.00 €" in ladder
    assert "30.00 €" in ladder


def test_the_plan_list_shows_price_and_per_day_equivalent(as_yanis, monthly, lille):
    PlanFactory(space=lille, name="Annuel Lille", kind="annual", unit_price=Decimal("2400.00"))
    page = html(as_yanis.get(reverse("admin:billing_plan_changelist")))
    assert "Mensuel" in page
    assert "12.50 €" in page
    assert "Annuel Lille" not in page


def test_a_tier_that_makes_a_later_period_dearer_is_a_form_error(as_yanis, monthly):
    tiers = [*current_tiers(monthly), (None, 20, "260.00", False)]
    response = as_yanis.post(
        reverse("admin:billing_plan_change", args=[monthly.pk]), plan_data(monthly, tiers)
    )
    assert response.status_code == 200
    assert "The price from period 20 (260.00) is higher than an earlier period" in html(response)
    assert monthly.tiers.count() == 2


def test_two_tiers_starting_at_the_same_period_are_a_form_error(as_yanis, monthly):
    tiers = [*current_tiers(monthly), (None, 4, "220.00", False)]
    response = as_yanis.post(
        reverse("admin:billing_plan_change", args=[monthly.pk]), plan_data(monthly, tiers)
    )
    assert response.status_code == 200
    assert "Two tiers start at period 4" in html(response)
    assert monthly.tiers.count() == 2


def test_a_negative_price_is_a_form_error(as_yanis, monthly):
    tiers = [*current_tiers(monthly), (None, 24, "-5.00", False)]
    response = as_yanis.post(
        reverse("admin:billing_plan_change", args=[monthly.pk]), plan_data(monthly, tiers)
    )
    assert response.status_code == 200
    assert "greater than or equal to 0" in html(response)
    assert monthly.tiers.count() == 2


def test_new_tiers_are_saved_and_periods_already_sold_keep_their_price(as_yanis, monthly, member):
    pass_obj = buy(member, monthly)
    tiers = [*current_tiers(monthly), (None, 1, "240.00", False)]
    response = as_yanis.post(
        reverse("admin:billing_plan_change", args=[monthly.pk]),
        plan_data(monthly, tiers, unit_price="260.00"),
    )
    assert response.status_code == 302, html(response)[:3000]
    assert list(monthly.tiers.values_list("first_period", "unit_price")) == [
        (1, Decimal("240.00")),
        (4, Decimal("230.00")),
        (13, Decimal("210.00")),
    ]
    period = pass_obj.periods.get()
    assert period.unit_price == Decimal("250.00")
    assert period.invoice.gross == Decimal("300.00")


def test_a_sold_plan_keeps_its_space_and_kind(as_yanis, monthly, member, paris):
    buy(member, monthly)
    other = SpaceFactory(name="Paris Nation", slug="nation", invoice_prefix="NAT")
    as_yanis.force_login(ManagerFactory(spaces=[paris, other]))
    data = plan_data(monthly, current_tiers(monthly), space=other.pk, kind="annual")
    assert as_yanis.post(reverse("admin:billing_plan_change", args=[monthly.pk]), data).status_code == 302
    monthly.refresh_from_db()
    assert (monthly.space, monthly.kind) == (paris, "monthly")


def test_the_ladder_preview_shows_unsaved_changes_without_saving_them(as_yanis, monthly):
    tiers = current_tiers(monthly)
    tiers[0] = (tiers[0][0], 6, "225.00", False)
    url = reverse("admin:billing_plan_preview_ladder", args=[monthly.pk])
    page = html(as_yanis.post(url, plan_data(monthly, tiers)))
    assert "Months 1 to 5" in page
    assert "225.00 €" in page
    assert "11.25 €" in page
    assert "nothing is saved yet" in page
    assert list(monthly.tiers.values_list("first_period", flat=True)) == [4, 13]

    # A field the ladder does not depend on may be invalid: the preview still shows.
    page = html(as_yanis.post(url, plan_data(monthly, tiers, name="")))
    assert "Months 1 to 5" in page

    tiers[0] = (tiers[0][0], 6, "255.00", False)
    page = html(as_yanis.post(url, plan_data(monthly, tiers)))
    assert "The price from period 6 (255.00) is higher than an earlier period" in page
    page = html(as_yanis.post(url, plan_data(monthly, current_tiers(monthly), unit_price="abc")))
    assert "Enter a number." in page
    assert as_yanis.get(url).status_code == 405


def test_a_new_plan_can_be_previewed_and_added_with_tiers(as_yanis, paris):
    new = Plan(space=paris, name="Annuel", kind="annual", unit_price=Decimal("2400.00"))
    data = plan_data(new, [(None, 2, "2200.00", False)])
    page = html(as_yanis.post(reverse("admin:billing_plan_preview_ladder"), data))
    assert "Year 1" in page
    assert "From year 2" in page
    assert "2,200.00 €" in page
    response = as_yanis.post(reverse("admin:billing_plan_add"), data)
    assert response.status_code == 302, html(response)[:3000]
    plan = Plan.objects.get(name="Annuel")
    assert list(plan.tiers.values_list("first_period", "unit_price")) == [(2, Decimal("2200.00"))]


def test_the_plan_form_offers_only_the_spaces_the_manager_runs(as_yanis, paris, lille):
    response = as_yanis.get(reverse("admin:billing_plan_add"))
    assert list(response.context["adminform"].form.fields["space"].queryset) == [paris]
    data = plan_data(Plan(space=lille, name="Intrus", kind="day_pass", unit_price=Decimal("20")), [])
    response = as_yanis.post(reverse("admin:billing_plan_add"), data)
    assert response.status_code == 200
    assert not Plan.objects.filter(name="Intrus").exists()


# --- invoices and payments ---------------------------------------------------------------------------


def record_url(invoice):
    return reverse("admin:billing_invoice_record_payment", args=[invoice.pk])


def pay(client, invoice, amount, received_on=TODAY, method="transfer", reference="VIR 2026-117"):
    return client.post(
        record_url(invoice),
        {"amount": amount, "method": method, "received_on": received_on.isoformat(), "reference": reference},
    )


def test_a_partial_then_the_full_payment_pays_the_invoice_and_restores_the_pass(
    as_yanis, yanis, monthly, member
):
    pass_obj = buy(member, monthly)
    services.pass_transition(pass_obj, PassStatus.PAST_DUE)
    Pass.objects.filter(pk=pass_obj.pk).update(past_due_since=TODAY)
    invoice = invoice_of(pass_obj)

    form_page = html(as_yanis.get(record_url(invoice)))
    assert 'value="300.00"' in form_page  # what is still due
    assert "Cash" in form_page
    assert "Cheque" in form_page
    assert "To be paid at the desk" not in form_page

    response = pay(as_yanis, invoice, "100.00")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_invoice_change", args=[invoice.pk])
    page = html(as_yanis.get(response["Location"]))
    assert "100.00 € recorded on PAR-2026-00001; 200.00 € is still due." in page
    pass_obj.refresh_from_db()
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED
    assert pass_obj.status == PassStatus.PAST_DUE

    assert 'value="200.00"' in html(as_yanis.get(record_url(invoice)))
    response = pay(as_yanis, invoice, "200.00", method="cheque", reference="")
    assert response.status_code == 302
    assert "200.00 € recorded on PAR-2026-00001: the invoice is paid." in html(
        as_yanis.get(response["Location"])
    )
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    pass_obj.refresh_from_db()
    assert (pass_obj.status, pass_obj.past_due_since) == (PassStatus.ACTIVE, None)
    payments = invoice.payments.order_by("created_at", "pk")
    assert [(p.amount, p.method, p.status, p.recorded_by) for p in payments] == [
        (Decimal("100.00"), "transfer", PaymentStatus.SUCCEEDED, yanis),
        (Decimal("200.00"), "cheque", PaymentStatus.SUCCEEDED, yanis),
    ]


def test_an_amount_in_french_format_is_understood(client, yanis, monthly, member):
    client.force_login(yanis)
    invoice = invoice_of(buy(member, monthly))
    assert 'value="300,00"' in html(client.get(record_url(invoice)))
    assert pay(client, invoice, "120,50").status_code == 302
    assert invoice.payments.get(status=PaymentStatus.SUCCEEDED).amount == Decimal("120.50")


def test_paying_more_than_what_is_due_is_refused_with_a_form_error(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    pay(as_yanis, invoice, "100.00")
    response = pay(as_yanis, invoice, "200.01")
    assert response.status_code == 200
    assert "The amount must be positive and at most what is still due." in html(response)
    assert invoice.payments.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED


def test_a_payment_received_in_the_future_is_refused(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    response = pay(as_yanis, invoice, "300.00", received_on=TODAY + timedelta(days=1))
    assert response.status_code == 200
    assert "The date received cannot be in the future." in html(response)
    assert not invoice.payments.filter(status=PaymentStatus.SUCCEEDED).exists()


def test_a_paid_invoice_offers_no_payment_to_record(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    pay(as_yanis, invoice, "300.00")
    assert "Record a payment" not in html(
        as_yanis.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    )
    response = as_yanis.get(record_url(invoice), follow=True)
    assert "This invoice is already paid." in html(response)


def test_no_payment_is_recorded_on_a_credit_note_or_the_invoice_it_cancels(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    note = services.credit_note_issue(invoice=invoice, today=TODAY)
    for document, message in (
        (invoice, "This invoice was cancelled by a credit note"),
        (note, "A credit note is not paid"),
    ):
        assert message in html(as_yanis.get(record_url(document), follow=True))
        assert pay(as_yanis, document, "10.00").status_code == 302
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()
    page = html(as_yanis.get(reverse("admin:billing_invoice_change", args=[invoice.pk])))
    assert note.number in page
    assert record_url(invoice) not in page


def test_the_invoice_page_shows_lines_payments_and_the_printable_documents(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    pay(as_yanis, invoice, "100.00", reference="VIR-42")
    page = html(as_yanis.get(reverse("admin:billing_invoice_change", args=[invoice.pk])))
    assert "Mensuel · 10/03/2026 - 09/04/2026" in page  # the line
    assert "VIR-42" in page
    assert "Bank transfer" in page
    assert "Camille Martin" in page
    assert "Paris Bastille SAS" in page
    assert record_url(invoice) in page
    for name in ("billing:invoice", "billing:invoice_pdf"):
        try:
            assert reverse(name, args=[invoice.number]) in page
        except NoReverseMatch:
            assert "Not available yet." in page


def test_the_buyer_snapshot_is_shown_escaped(as_yanis, monthly):
    member = UserFactory(member__display_name="<b>Camille</b>", member__billing_address="1 rue\n59000 Lille")
    invoice = invoice_of(buy(member, monthly))
    page = html(as_yanis.get(reverse("admin:billing_invoice_change", args=[invoice.pk])))
    assert "&lt;b&gt;Camille&lt;/b&gt;<br>1 rue<br>59000 Lille" in page


def test_the_invoice_list_shows_amounts_due_and_overdue_invoices(as_yanis, monthly, member):
    late = invoice_of(buy(member, monthly, start=date(2026, 3, 2), now=datetime(2026, 3, 2, 9, tzinfo=PARIS)))
    on_time = invoice_of(buy(member, monthly))
    pay(as_yanis, on_time, "50.00")
    changelist = reverse("admin:billing_invoice_changelist")
    page = html(as_yanis.get(changelist))
    assert late.number in page
    assert on_time.number in page
    assert "50.00 €" in page
    assert page.count("days late") == 1
    assert "8 days late" in page  # due on 2 March, seen on 10 March
    assert record_url(late) in page
    assert record_url(on_time) in page

    overdue = html(as_yanis.get(changelist, {"overdue": "yes"}))
    assert late.number in overdue
    assert on_time.number not in overdue
    not_overdue = html(as_yanis.get(changelist, {"overdue": "no"}))
    assert late.number not in not_overdue
    assert on_time.number in not_overdue


def test_invoices_are_found_by_number_member_email_and_buyer_name(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    other = invoice_of(buy(UserFactory(member__display_name="Zoé Durand"), monthly))
    changelist = reverse("admin:billing_invoice_changelist")
    for query in (invoice.number, member.email, "camille"):
        page = html(as_yanis.get(changelist, {"q": query}))
        assert invoice.number in page, query
        assert other.number not in page, query


def test_issued_invoices_cannot_be_added_changed_or_deleted(as_yanis, monthly, member):
    invoice = invoice_of(buy(member, monthly))
    assert as_yanis.get(reverse("admin:billing_invoice_add")).status_code == 403
    assert as_yanis.get(reverse("admin:billing_invoice_delete", args=[invoice.pk])).status_code == 403
    change_url = reverse("admin:billing_invoice_change", args=[invoice.pk])
    page = html(as_yanis.get(change_url))
    assert 'name="_save"' not in page
    assert as_yanis.post(change_url, {"gross": "1.00"}).status_code == 403
    changelist = html(as_yanis.get(reverse("admin:billing_invoice_changelist")))
    assert "delete_selected" not in changelist
    assert Invoice.objects.get(pk=invoice.pk).gross == Decimal("300.00")


def test_a_manager_sees_and_pays_only_the_invoices_of_the_spaces_they_run(as_yanis, monthly, member, lille):
    theirs = invoice_of(buy(member, monthly_plan(lille)))
    ours = invoice_of(buy(member, monthly))
    page = html(as_yanis.get(reverse("admin:billing_invoice_changelist")))
    assert ours.number in page
    assert theirs.number not in page
    assert "Lille Centre" not in page  # not even in the space filter
    assert as_yanis.get(reverse("admin:billing_invoice_change", args=[theirs.pk])).status_code == 302
    assert as_yanis.get(record_url(theirs)).status_code == 404
    assert pay(as_yanis, theirs, "300.00").status_code == 404
    assert not theirs.payments.filter(status=PaymentStatus.SUCCEEDED).exists()


# --- passes ------------------------------------------------------------------------------------------


def test_the_pass_list_shows_the_current_period(as_yanis, monthly, member):
    pass_obj = buy(member, monthly, start=date(2026, 2, 10), now=datetime(2026, 2, 10, 9, tzinfo=PARIS))
    services.renew_due_passes(now=datetime(2026, 3, 9, 9, tzinfo=PARIS))
    assert pass_obj.periods.count() == 2
    page = html(as_yanis.get(reverse("admin:billing_pass_changelist")))
    assert "#2 · 03/10/2026 - 04/09/2026" in page
    page = html(as_yanis.get(reverse("admin:billing_pass_change", args=[pass_obj.pk])))
    assert "PAR-2026-00002" in page  # the invoice of the second period, in the periods inline


def change_form_data(response, **changes):
    """What the browser posts back from an admin change page as rendered, with `changes` applied
    (a value of None leaves the field out, as an unticked checkbox is)."""
    data = {"_save": "Save"}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms += formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is True:
                value = "on"
            if value not in (None, False):
                data[form.add_prefix(name)] = value
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_a_manager_switches_auto_renewal_off_through_the_service(as_yanis, monthly, member):
    pass_obj = buy(member, monthly)
    notice_for(pass_obj, "Avant renouvellement")
    updated_at = pass_obj.updated_at
    url = reverse("admin:billing_pass_change", args=[pass_obj.pk])
    response = as_yanis.post(url, change_form_data(as_yanis.get(url), auto_renew=None))
    assert response.status_code == 302, html(response)[:3000]
    pass_obj.refresh_from_db()
    assert pass_obj.auto_renew is False
    assert pass_obj.updated_at == updated_at  # the service's update, not a save() of the whole row
    assert pass_obj.status == PassStatus.ACTIVE
    assert pass_obj.periods.count() == 1
    assert pass_obj.notices.count() == 1


def test_a_pass_that_cannot_renew_offers_no_auto_renewal_switch(as_yanis, paris, member):
    pack = PlanFactory(space=paris, name="Carnet", kind="pack_10", unit_price=Decimal("180"), desk_days=10)
    pass_obj = buy(member, pack)
    response = as_yanis.get(reverse("admin:billing_pass_change", args=[pass_obj.pk]))
    assert "auto_renew" not in response.context["adminform"].form.fields


def test_the_other_fields_of_a_pass_are_read_only(as_yanis, monthly, member):
    pass_obj = buy(member, monthly)
    url = reverse("admin:billing_pass_change", args=[pass_obj.pk])
    data = change_form_data(as_yanis.get(url), status="cancelled", past_due_since="2026-01-01", kind="annual")
    assert as_yanis.post(url, data).status_code == 302
    pass_obj.refresh_from_db()
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.kind, pass_obj.auto_renew) == (
        PassStatus.ACTIVE,
        None,
        "monthly",
        True,
    )


def test_cancel_at_period_end_stops_auto_renewal_of_the_selected_passes(as_yanis, monthly, member, lille):
    first, second = buy(member, monthly), buy(UserFactory(member__display_name="Zoé"), monthly)
    cancelled = buy(UserFactory(member__display_name="Léa"), monthly)
    services.pass_transition(cancelled, PassStatus.CANCELLED)
    theirs = buy(member, monthly_plan(lille))
    response = as_yanis.post(
        reverse("admin:billing_pass_changelist"),
        {
            "action": "cancel_at_period_end",
            "_selected_action": [first.pk, second.pk, cancelled.pk, theirs.pk],
        },
        follow=True,
    )
    assert "2 passes will end after their paid period." in html(response)
    assert "This change is not allowed for this pass." in html(response)
    assert list(Pass.objects.filter(auto_renew=False).order_by("pk")) == [first, second]
    history = html(as_yanis.get(reverse("admin:billing_pass_history", args=[first.pk])))
    assert "Stopped auto-renewal" in history


def test_a_manager_does_not_see_the_passes_of_other_spaces(as_yanis, monthly, member, lille):
    theirs = buy(member, monthly_plan(lille))
    ours = buy(UserFactory(member__display_name="Zoé Durand"), monthly)
    page = html(as_yanis.get(reverse("admin:billing_pass_changelist")))
    assert f"/billing/pass/{ours.pk}/change/" in page
    assert f"/billing/pass/{theirs.pk}/change/" not in page
    assert as_yanis.get(reverse("admin:billing_pass_change", args=[theirs.pk])).status_code == 302
    assert (
        as_yanis.post(reverse("admin:billing_pass_change", args=[theirs.pk]), {"_save": "1"}).status_code
        == 302
    )
    assert Pass.objects.get(pk=theirs.pk).auto_renew is True


# --- payments, notices, and who sees the module ------------------------------------------------------


def notice_for(pass_obj, subject):
    return Notice.objects.create(
        pass_obj=pass_obj,
        kind="payment_reminder",
        key=f"reminder:{pass_obj.pk}",
        email=pass_obj.member.email,
        subject=subject,
        body="Votre facture est en attente de paiement.",
    )


def test_payments_and_notices_are_read_only_lists_of_the_managers_spaces(as_yanis, monthly, member, lille):
    ours, theirs = buy(member, monthly), buy(member, monthly_plan(lille))
    services.payment_record(
        invoice=invoice_of(ours), amount=Decimal("300.00"), method="cash", received_on=TODAY, by=None
    )
    services.payment_record(
        invoice=invoice_of(theirs), amount=Decimal("300.00"), method="cheque", received_on=TODAY, by=None
    )
    notice_for(ours, "Rappel Paris")
    notice_for(theirs, "Rappel Lille")

    payments = html(as_yanis.get(reverse("admin:billing_payment_changelist")))
    assert invoice_of(ours).number in payments
    assert invoice_of(theirs).number not in payments
    notices = html(as_yanis.get(reverse("admin:billing_notice_changelist")))
    assert "Rappel Paris" in notices
    assert "Rappel Lille" not in notices

    for model in ("payment", "notice"):
        assert as_yanis.get(reverse(f"admin:billing_{model}_add")).status_code == 403
    payment = Payment.objects.get(invoice=invoice_of(ours))
    page = html(as_yanis.get(reverse("admin:billing_payment_change", args=[payment.pk])))
    assert 'name="_save"' not in page
    assert as_yanis.get(reverse("admin:billing_payment_delete", args=[payment.pk])).status_code == 403
    theirs_payment = Payment.objects.get(invoice=invoice_of(theirs))
    assert as_yanis.get(reverse("admin:billing_payment_change", args=[theirs_payment.pk])).status_code == 302


def test_staff_who_run_no_space_see_no_billing(client, monthly, member):
    client.force_login(ManagerFactory())
    buy(member, monthly)
    assert reverse("admin:billing_invoice_changelist") not in html(client.get(reverse("admin:index")))
    for model in ("plan", "invoice", "pass", "payment", "notice"):
        assert client.get(reverse(f"admin:billing_{model}_changelist")).status_code == 403
    assert client.get(record_url(Invoice.objects.get())).status_code == 403


def test_a_superuser_sees_every_space(english, monthly, member, lille):
    english.force_login(UserFactory(is_staff=True, is_superuser=True))
    numbers = [invoice_of(buy(member, plan)).number for plan in (monthly, monthly_plan(lille))]
    page = html(english.get(reverse("admin:billing_invoice_changelist")))
    assert all(number in page for number in numbers)


@pytest.mark.parametrize("model", ["plan", "invoice", "pass", "payment", "notice"])
def test_every_billing_page_renders_for_a_manager(as_yanis, monthly, member, model):
    pass_obj = buy(member, monthly)
    notice_for(pass_obj, "Rappel")
    instance = {
        "plan": monthly,
        "invoice": invoice_of(pass_obj),
        "pass": pass_obj,
        "payment": Payment.objects.first(),
        "notice": Notice.objects.first(),
    }[model]
    assert as_yanis.get(reverse(f"admin:billing_{model}_changelist")).status_code == 200
    assert as_yanis.get(reverse(f"admin:billing_{model}_changelist"), {"q": "a"}).status_code == 200
    assert as_yanis.get(reverse(f"admin:billing_{model}_change", args=[instance.pk])).status_code == 200


# --- query counts ------------------------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def add_rows(space, plan, count, first=0):
    """`count` more passes bought (each with its invoice, pending payment and a notice) and plans."""
    for n in range(first, first + count):
        pass_obj = buy(UserFactory(member__display_name=f"Membre {n}"), plan)
        notice_for(pass_obj, f"Rappel {n}")
        services.payment_record(
            invoice=invoice_of(pass_obj), amount=Decimal("10.00"), method="cash", received_on=TODAY, by=None
        )
        PlanFactory(space=space, name=f"Offre {n}", kind="day_pass", unit_price=Decimal("20"))


def test_thirty_invoices_are_listed_with_as_many_queries_as_one(
    as_yanis, paris, django_assert_max_num_queries
):
    plan = monthly_plan(paris)
    url = reverse("admin:billing_invoice_changelist")
    add_rows(paris, plan, 1)
    with_one = count_queries(as_yanis, url)
    assert with_one <= 15
    add_rows(paris, plan, 29, first=1)
    assert Invoice.objects.count() == 30
    with django_assert_max_num_queries(with_one):
        response = as_yanis.get(url)
    page = html(response)
    assert len(re.findall(r"/invoice/\d+/payment/", page)) == 30  # "record a payment" on each
    assert page.count("10.00 €") == 30  # and shows what was paid


@pytest.mark.parametrize("model", ["pass", "payment", "plan", "notice"])
def test_the_other_lists_make_a_constant_number_of_queries(
    as_yanis, paris, model, django_assert_max_num_queries
):
    plan = monthly_plan(paris)
    url = reverse(f"admin:billing_{model}_changelist")
    add_rows(paris, plan, 1)
    with_one = count_queries(as_yanis, url)
    add_rows(paris, plan, 29, first=1)
    with django_assert_max_num_queries(with_one):
        assert as_yanis.get(url).status_code == 200
