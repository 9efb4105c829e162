"""What a manager does to invoices and passes: payments, full and partial credit notes, suspending,
restoring and extending passes, and the audit log each of these writes in its own transaction."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from billing import periods, pricing, services
from billing.models import (
    CreditEntry,
    CreditKind,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Notice,
    NoticeKind,
    Pass,
    PassStatus,
    PaymentStatus,
    PriceTier,
)
from members.models import AuditEntry
from tests.factories import ManagerFactory, PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 10, tzinfo=PARIS)
TODAY = NOW.date()

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def paris():
    return SpaceFactory(name="Paris Bastille", slug="paris", invoice_prefix="PAR", email="paris@example.com")


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
def camille():
    return UserFactory(
        email="camille@example.com",
        member__display_name="Camille Martin",
        member__billing_address="3 rue Nationale",
    )


@pytest.fixture
def john():
    return UserFactory(
        email="john@example.com", member__display_name="John Smith", member__preferred_language="en"
    )


def monthly_plan(space, **fields):
    plan = PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"), **fields)
    PriceTier.objects.create(plan=plan, first_period=4, unit_price=Decimal("230.00"))
    return plan


@pytest.fixture
def monthly(paris):
    return monthly_plan(paris)


def buy(member, plan, start=TODAY) -> Pass:
    return services.pass_purchase(member=member, plan=plan, start=start, now=at(start, 9))


def invoice_of(pass_obj: Pass, number: int = 1) -> Invoice:
    return pass_obj.periods.get(number=number).invoice


def pay_all(invoice, by=None) -> None:
    due = services.invoice_balance(invoice).due
    services.payment_record(invoice=invoice, amount=due, method="transfer", received_on=TODAY, by=by)


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def html(response) -> str:
    return response.content.decode()


# --- payments ----------------------------------------------------------------------------------------


def test_a_payment_recorded_by_a_manager_is_in_the_audit_log(yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    services.payment_record(
        invoice=invoice,
        amount=Decimal("100.00"),
        method="transfer",
        received_on=TODAY,
        reference="VIR-117",
        by=yanis,
    )
    (entry,) = entries("payment.record")
    assert (entry.actor, entry.actor_email, entry.space_id) == (yanis, "yanis@example.com", monthly.space_id)
    assert (entry.target_type, entry.target_id, entry.target_repr) == (
        "billing.invoice",
        str(invoice.pk),
        "PAR-2026-00001",
    )
    assert entry.before == {"status": "issued", "paid": "0.00", "due": "300.00"}
    assert entry.after["amount"] == "100.00"
    assert entry.after["method"] == "transfer"
    assert entry.after["due"] == "200.00"
    assert entry.after["received_on"] == "2026-03-10"
    assert entry.note == "VIR-117"


def test_a_payment_recorded_by_the_system_writes_no_audit_entry(monthly, camille):
    pay_all(invoice_of(buy(camille, monthly)))
    assert not AuditEntry.objects.exists()


# --- credit notes ------------------------------------------------------------------------------------


def test_half_of_a_paid_invoice_is_credited_with_one_line_at_its_vat_rate(
    yanis, monthly, camille, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = invoice_of(buy(camille, monthly))
    pay_all(invoice, by=yanis)
    with django_capture_on_commit_callbacks(execute=True):
        note = services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("150.00"), reason="Geste commercial", today=TODAY, by=yanis
        )
    assert note.number == "PAR-AV-2026-00001"
    assert (note.kind, note.corrects, note.language) == (DocumentKind.CREDIT_NOTE, invoice, "fr")
    (line,) = note.lines.all()
    assert (line.vat_rate, line.net, line.vat, line.gross) == (
        Decimal("20.00"),
        Decimal("-125.00"),
        Decimal("-25.00"),
        Decimal("-150.00"),
    )
    assert "PAR-2026-00001" in line.description
    assert "Geste commercial" in line.description
    assert (note.net, note.vat, note.gross) == (Decimal("-125.00"), Decimal("-25.00"), Decimal("-150.00"))

    # Payments stay money received: the paid invoice stays paid, and half of it is owed back.
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    balance = services.invoice_balance(invoice)
    assert (balance.paid, balance.credited, balance.due, balance.to_refund) == (
        Decimal("300.00"),
        Decimal("150.00"),
        Decimal("0"),
        Decimal("150.00"),
    )
    assert not invoice.payments.filter(amount__lt=0).exists()

    (entry,) = entries("invoice.credit_note")
    assert (entry.actor, entry.space_id, entry.target_id, entry.note) == (
        yanis,
        monthly.space_id,
        str(invoice.pk),
        "Geste commercial",
    )
    assert entry.before["credited"] == "0.00"
    assert entry.before["to_refund"] == "0.00"
    assert entry.after["credit_note"] == "PAR-AV-2026-00001"
    assert entry.after["amount"] == "150.00"
    assert entry.after["to_refund"] == "150.00"

    (message,) = [m for m in mailoutbox if "PAR-AV-2026-00001" in m.subject]
    assert message.to == ["camille@example.com"]
    assert message.reply_to == ["paris@example.com"]
    assert "10 mars 2026" in message.body  # the invoice's language: French dates
    assert "150,00 EUR" in message.body
    assert "Geste commercial" in message.body
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == ("PAR-AV-2026-00001.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def test_the_credit_note_email_is_in_the_invoices_language(
    yanis, monthly, john, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = invoice_of(buy(john, monthly))
    pay_all(invoice)
    with django_capture_on_commit_callbacks(execute=True):
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("60.00"), reason="Wi-Fi down", today=TODAY, by=yanis
        )
    (message,) = mailoutbox
    assert message.subject == (
        "[Coworking] Credit note PAR-AV-2026-00001 on your invoice PAR-2026-00001, Paris Bastille"
    )
    assert "Hello John Smith," in message.body
    assert "of 10 March 2026" in message.body
    assert "Amount credited: 60.00 EUR incl. VAT." in message.body
    assert "Reason: Wi-Fi down" in message.body
    assert "You had already paid this invoice: 60.00 EUR will be refunded to you." in message.body
    assert "The Paris Bastille team" in message.body


def test_a_partial_credit_lowers_what_an_unpaid_invoice_still_owes(
    yanis, monthly, john, mailoutbox, django_capture_on_commit_callbacks
):
    pass_obj = buy(john, monthly, start=date(2026, 3, 2))
    services.pass_transition(pass_obj, PassStatus.PAST_DUE)
    invoice = invoice_of(pass_obj)
    with django_capture_on_commit_callbacks(execute=True):
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("100.00"), reason="Heating broken", today=TODAY, by=yanis
        )
    assert "Still to pay on this invoice: 200.00 EUR." in mailoutbox[0].body
    assert "refunded" not in mailoutbox[0].body
    assert services.invoice_balance(invoice).due == Decimal("200.00")
    with pytest.raises(services.BillingError) as caught:
        services.payment_record(
            invoice=invoice, amount=Decimal("300.00"), method="cash", received_on=TODAY, by=yanis
        )
    assert caught.value.code == "invalid_amount"
    # Paying what is left settles the invoice, and its pass is usable again at once.
    services.payment_record(
        invoice=invoice, amount=Decimal("200.00"), method="cash", received_on=TODAY, by=yanis
    )
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert Pass.objects.get(pk=pass_obj.pk).status == PassStatus.ACTIVE


def test_crediting_all_that_is_left_of_an_unpaid_invoice_cancels_it(yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("120.00"), reason="Un", today=TODAY, by=yanis
    )
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("180.00"), reason="Deux", today=TODAY, by=yanis
    )
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.CREDITED
    assert not invoice.payments.filter(status=PaymentStatus.PENDING).exists()
    assert list(invoice.credit_notes.order_by("sequence").values_list("number", flat=True)) == [
        "PAR-AV-2026-00001",
        "PAR-AV-2026-00002",
    ]
    balance = services.invoice_balance(invoice)
    assert (balance.due, balance.to_refund, balance.creditable) == (Decimal(0), Decimal(0), Decimal(0))


def test_part_paid_and_the_rest_credited_settles_the_invoice(yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    services.payment_record(
        invoice=invoice, amount=Decimal("200.00"), method="cash", received_on=TODAY, by=yanis
    )
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("100.00"), reason="Remise", today=TODAY, by=yanis
    )
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert services.invoice_balance(invoice).to_refund == Decimal(0)


@pytest.mark.parametrize("amount", ["0", "-5.00", "300.01", "10.005"])
def test_credit_notes_never_exceed_the_invoice(yanis, monthly, camille, amount):
    invoice = invoice_of(buy(camille, monthly))
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal(amount), reason="Trop", today=TODAY, by=yanis
        )
    assert caught.value.code == "credit_too_large"
    with translation.override("en"):
        assert "300.00 EUR" in caught.value.message
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()
    assert not AuditEntry.objects.exists()


def test_after_a_partial_credit_only_the_rest_can_be_credited(yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("250.00"), reason="Un", today=TODAY, by=yanis
    )
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("50.01"), reason="Deux", today=TODAY, by=yanis
        )
    assert caught.value.code == "credit_too_large"
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_issue(invoice=invoice, today=TODAY, reason="Tout", by=yanis)
    assert caught.value.code == "already_credited"
    assert services.amount_credited(invoice) == Decimal("250.00")


def test_a_form_sent_twice_credits_once(yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    kwargs = {"amount_gross": Decimal("100.00"), "reason": "Deux fois", "today": TODAY, "by": yanis}
    services.credit_note_partial(invoice=invoice, expected_credited=Decimal("0"), **kwargs)
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_partial(invoice=invoice, expected_credited=Decimal("0"), **kwargs)
    assert caught.value.code == "invoice_changed"
    assert invoice.credit_notes.count() == 1


def test_an_amount_no_line_can_reach_at_the_vat_rate_is_refused_with_the_nearest_ones(
    yanis, monthly, camille
):
    invoice = invoice_of(buy(camille, monthly))
    # At 20 %, a net of 0.02 gives 0.02 and a net of 0.03 gives 0.04 (0.006 of VAT rounds to 0.01).
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("0.03"), reason="Centimes", today=TODAY, by=yanis
        )
    assert caught.value.code == "credit_inexact"
    with translation.override("en"):
        assert "credit 0.02 or 0.04 EUR" in caught.value.message


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2))
def test_a_partial_credit_line_comes_to_the_amount_asked_or_none_does(gross):
    for rate in (Decimal("0.20"), Decimal("0.21"), Decimal("0.055"), Decimal("0")):
        net = services._net_for_gross(gross, rate, "EUR")
        if net is not None:
            assert pricing.make_line("", Decimal(1), -net, rate).gross == -gross
        else:
            # Only when the VAT jumps a cent at once: the neighbours either side are reachable.
            lower, higher = services._reachable_grosses(gross, rate, "EUR")
            assert lower < gross < higher
            assert higher - lower == Decimal("0.02")


def test_an_invoice_at_several_vat_rates_is_only_credited_in_full(yanis, paris, camille):
    lines = [
        pricing.make_line("Bureau", Decimal(1), Decimal("100.00"), Decimal("0.20")),
        pricing.make_line("Repas", Decimal(1), Decimal("10.00"), Decimal("0.10")),
    ]
    invoice = services.invoice_issue(space=paris, member=camille, lines=lines, issue_date=TODAY)
    with pytest.raises(services.BillingError) as caught:
        services.credit_note_partial(
            invoice=invoice, amount_gross=Decimal("10.00"), reason="Moitié", today=TODAY, by=yanis
        )
    assert caught.value.code == "several_vat_rates"
    note = services.credit_note_issue(invoice=invoice, today=TODAY, reason="Annulation", by=yanis)
    assert note.gross == -invoice.gross
    assert entries("invoice.credit_note")[0].after["credit_note"] == note.number


def test_a_credit_note_is_not_credited_again(yanis, monthly, camille):
    note = services.credit_note_issue(invoice=invoice_of(buy(camille, monthly)), today=TODAY)
    for call in (
        lambda: services.credit_note_issue(invoice=note, today=TODAY, by=yanis),
        lambda: services.credit_note_partial(
            invoice=note, amount_gross=Decimal("1.00"), reason="Non", today=TODAY, by=yanis
        ),
    ):
        with pytest.raises(services.BillingError) as caught:
            call()
        assert caught.value.code == "not_allowed"


def test_a_full_credit_note_by_the_system_writes_no_audit_and_sends_nothing(
    monthly, camille, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.credit_note_issue(invoice=invoice_of(buy(camille, monthly)), today=TODAY)
    assert not AuditEntry.objects.exists()
    assert mailoutbox == []


# --- suspend and restore ------------------------------------------------------------------------------


@pytest.fixture
def past_due(monthly, john):
    """John's pass, bought on 2 March and unpaid: overdue since 3 March."""
    pass_obj = buy(john, monthly, start=date(2026, 3, 2))
    services.pass_transition(pass_obj, PassStatus.PAST_DUE)
    Pass.objects.filter(pk=pass_obj.pk).update(past_due_since=date(2026, 3, 3), reminders_sent=2)
    return Pass.objects.get(pk=pass_obj.pk)


def test_a_manager_suspends_a_past_due_pass_and_the_member_is_told_once(
    yanis, past_due, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.pass_suspend(pass_obj=past_due, by=yanis, reason="Third reminder unanswered", now=NOW)
    assert Pass.objects.get(pk=past_due.pk).status == PassStatus.SUSPENDED
    (message,) = mailoutbox
    assert message.subject == "[Coworking] Your pass Mensuel is suspended, Paris Bastille"
    assert "still unpaid 8 days after its due date" in message.body
    assert "PAR-2026-00001" in message.body
    notice = Notice.objects.get(pass_obj=past_due)
    assert (notice.kind, notice.key, notice.sent_at is not None) == (
        NoticeKind.SUSPENSION,
        f"suspension:{invoice_of(past_due).pk}",
        True,
    )
    (entry,) = entries("pass.suspend")
    assert (entry.actor, entry.target_id, entry.note) == (
        yanis,
        str(past_due.pk),
        "Third reminder unanswered",
    )
    assert entry.before == {"status": "past_due"}
    assert entry.after == {"status": "suspended", "overdue_invoices": ["PAR-2026-00001"]}


@pytest.mark.parametrize("status", [PassStatus.ACTIVE, PassStatus.SUSPENDED, PassStatus.CANCELLED])
def test_only_a_past_due_pass_can_be_suspended(yanis, monthly, camille, status):
    pass_obj = buy(camille, monthly)
    Pass.objects.filter(pk=pass_obj.pk).update(status=status)
    with pytest.raises(services.BillingError) as caught:
        services.pass_suspend(pass_obj=pass_obj, by=yanis, reason="Non", now=NOW)
    assert caught.value.code == "not_past_due"
    assert Pass.objects.get(pk=pass_obj.pk).status == status
    assert not AuditEntry.objects.exists()


def test_a_reason_is_required(yanis, past_due):
    with pytest.raises(services.BillingError) as caught:
        services.pass_suspend(pass_obj=past_due, by=yanis, reason="   ", now=NOW)
    assert caught.value.code == "reason_required"


def test_restoring_a_pass_whose_invoice_is_unpaid_says_so_in_the_audit_log(yanis, past_due):
    services.pass_suspend(pass_obj=past_due, by=yanis, reason="Unpaid", now=NOW)
    with translation.override("en"):  # the manager's language, like the reason
        services.pass_restore(pass_obj=past_due, by=yanis, reason="Promised to pay Friday", now=NOW)
    restored = Pass.objects.get(pk=past_due.pk)
    # Usable again, with a new grace period from today.
    assert (restored.status, restored.past_due_since, restored.reminders_sent) == (
        PassStatus.ACTIVE,
        TODAY,
        0,
    )
    (entry,) = entries("pass.restore")
    assert entry.note == (
        "Promised to pay Friday — restored with unpaid overdue invoices (PAR-2026-00001), "
        "as a manager's decision"
    )
    assert entry.before == {"status": "suspended", "past_due_since": "2026-03-03", "reminders_sent": 2}
    assert entry.after == {
        "status": "active",
        "past_due_since": "2026-03-10",
        "reminders_sent": 0,
        "unpaid_overdue_invoices": ["PAR-2026-00001"],
    }


def test_restoring_a_pass_with_nothing_overdue_keeps_the_reason_only(yanis, monthly, camille):
    pass_obj = buy(camille, monthly)
    Pass.objects.filter(pk=pass_obj.pk).update(status=PassStatus.SUSPENDED)
    services.pass_restore(pass_obj=pass_obj, by=yanis, reason="Suspended by mistake", now=NOW)
    assert Pass.objects.get(pk=pass_obj.pk).past_due_since is None
    (entry,) = entries("pass.restore")
    assert entry.note == "Suspended by mistake"
    assert entry.after["unpaid_overdue_invoices"] == []


def test_only_a_suspended_pass_is_restored(yanis, past_due):
    with pytest.raises(services.BillingError) as caught:
        services.pass_restore(pass_obj=past_due, by=yanis, reason="Non", now=NOW)
    assert caught.value.code == "not_suspended"


# --- extending a pass -----------------------------------------------------------------------------------


def renew_until(day: date) -> None:
    """The renewal job, run every day up to `day` (as beat does), each time in the morning."""
    current = TODAY
    while current <= day:
        services.renew_due_passes(now=at(current, 6))
        current += timedelta(days=1)


def spans(pass_obj) -> list[tuple[int, date, date]]:
    return list(pass_obj.periods.order_by("number").values_list("number", "start_date", "end_date"))


def test_extending_a_monthly_pass_moves_its_next_renewal_to_the_day_after(yanis, monthly, camille):
    pass_obj = buy(camille, monthly)  # 10 March - 9 April
    period = services.pass_extend(pass_obj=pass_obj, days=10, by=yanis, reason="Travaux bruyants")
    assert period.end_date == date(2026, 4, 19)
    pass_obj.refresh_from_db()
    assert pass_obj.anchor_date == date(2026, 3, 20)
    renew_until(date(2026, 5, 25))
    assert spans(pass_obj) == [
        (1, date(2026, 3, 10), date(2026, 4, 19)),
        (2, date(2026, 4, 20), date(2026, 5, 19)),
        (3, date(2026, 5, 20), date(2026, 6, 19)),
    ]
    # Renewal invoices follow the new dates; the extended days were not invoiced.
    assert invoice_of(pass_obj, 2).service_start == date(2026, 4, 20)
    assert invoice_of(pass_obj, 1).service_end == date(2026, 4, 9)

    (entry,) = entries("pass.extend")
    assert (entry.actor, entry.space_id, entry.target_id, entry.note) == (
        yanis,
        monthly.space_id,
        str(pass_obj.pk),
        "Travaux bruyants",
    )
    assert entry.before == {"period": 1, "end_date": "2026-04-09", "anchor_date": "2026-03-10"}
    assert entry.after == {
        "period": 1,
        "end_date": "2026-04-19",
        "anchor_date": "2026-03-20",
        "days": 10,
        "credits_extended": [],
    }


def test_an_extension_keeps_counting_periods_for_the_price_tiers(yanis, monthly, camille):
    pass_obj = buy(camille, monthly)
    renew_until(date(2026, 5, 9))  # periods 1 to 3, up to 9 June
    services.pass_extend(pass_obj=pass_obj, days=5, by=yanis, reason="Geste")  # the last one, period 3
    renew_until(date(2026, 6, 15))
    assert spans(pass_obj)[2:] == [
        (3, date(2026, 5, 10), date(2026, 6, 14)),
        (4, date(2026, 6, 15), date(2026, 7, 14)),
    ]
    assert pass_obj.periods.get(number=4).unit_price == Decimal("230.00")  # the tier from period 4


def test_a_pass_anchored_on_the_31st_extended_by_a_day(yanis, monthly, camille, time_machine):
    time_machine.move_to(at(date(2026, 1, 31)), tick=False)
    pass_obj = buy(camille, monthly, start=date(2026, 1, 31))  # 31 January - 27 February
    services.pass_extend(pass_obj=pass_obj, days=1, by=yanis, reason="Panne")
    services.renew_due_passes(now=at(date(2026, 2, 27), 6))
    assert spans(pass_obj) == [
        (1, date(2026, 1, 31), date(2026, 2, 28)),
        (2, date(2026, 3, 1), date(2026, 3, 31)),
    ]


def test_an_annual_pass_is_extended_the_same_way(yanis, paris, camille):
    annual = PlanFactory(space=paris, name="Annuel", kind="annual", unit_price=Decimal("2400"))
    pass_obj = buy(camille, annual)  # 10 March 2026 - 9 March 2027
    services.pass_extend(pass_obj=pass_obj, days=30, by=yanis, reason="Fermeture")
    services.renew_due_passes(now=at(date(2027, 4, 8), 6))
    assert spans(pass_obj) == [
        (1, date(2026, 3, 10), date(2027, 4, 8)),
        (2, date(2027, 4, 9), date(2028, 4, 8)),
    ]


def test_an_extension_whose_next_start_cannot_be_anchored_is_refused_with_the_nearest_that_works(
    yanis, monthly, camille
):
    pass_obj = buy(camille, monthly, start=date(2026, 1, 10))  # 10 January - 9 February
    # 47 days more end on 28 March; a second period starting on 29 March would need an anchor on
    # 29 February 2026, which does not exist.
    with pytest.raises(services.BillingError) as caught, translation.override("en"):
        services.pass_extend(pass_obj=pass_obj, days=47, by=yanis, reason="Trop long")
    assert caught.value.code == "extension_unaligned"
    with translation.override("en"):
        assert "the pass would renew on March 29, 2026" in caught.value.message
        assert "Extend it by 46 days instead." in caught.value.message
    assert spans(pass_obj) == [(1, date(2026, 1, 10), date(2026, 2, 9))]
    services.pass_extend(pass_obj=pass_obj, days=46, by=yanis, reason="Juste")
    services.renew_due_passes(now=at(date(2026, 3, 27), 6))
    assert spans(pass_obj) == [
        (1, date(2026, 1, 10), date(2026, 3, 27)),
        (2, date(2026, 3, 28), date(2026, 4, 27)),
    ]


@given(
    anchor=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    months=st.sampled_from([1, 12]),
    number=st.integers(min_value=1, max_value=40),
    days=st.integers(min_value=1, max_value=90),
)
def test_an_extended_period_is_followed_without_gap_or_overlap(anchor, months, number, days):
    last = periods.anchored_period(anchor, months, number - 1)  # the period numbered `number`
    next_start = last.end + timedelta(days=days + 1)
    new_anchor = services.realigned_anchor(next_start, months, number)
    if new_anchor is None:
        assert next_start.day >= 29
        return
    following = [periods.anchored_period(new_anchor, months, number + k) for k in range(3)]
    assert following[0].start == next_start
    for before, after in pairwise(following):
        assert after.start == before.end + timedelta(days=1)


def test_extending_a_pack_extends_its_credits(yanis, paris, camille):
    pack = PlanFactory(space=paris, name="Carnet", kind="pack_10", unit_price=Decimal("180"), desk_days=10)
    pass_obj = buy(camille, pack)
    grant = CreditEntry.objects.get(source_pass=pass_obj)
    assert grant.expires_on == date(2026, 9, 9)
    services.pass_extend(pass_obj=pass_obj, days=30, by=yanis, reason="Absent un mois")
    grant.refresh_from_db()
    assert grant.expires_on == date(2026, 10, 9)
    assert spans(pass_obj) == [(1, date(2026, 3, 10), date(2026, 10, 9))]
    assert Pass.objects.get(pk=pass_obj.pk).anchor_date == TODAY
    assert entries("pass.extend")[0].after["credits_extended"] == [grant.pk]


def test_the_meeting_room_hours_of_the_extended_period_last_as_long(yanis, paris, camille):
    plan = monthly_plan(paris, room_hours=4)
    pass_obj = buy(camille, plan)
    services.pass_extend(pass_obj=pass_obj, days=7, by=yanis, reason="Geste")
    grant = CreditEntry.objects.get(source_pass=pass_obj, kind=CreditKind.ROOM_MINUTES)
    assert grant.expires_on == date(2026, 4, 16)


@pytest.mark.parametrize(
    ("days", "code"), [(0, "invalid_days"), (91, "invalid_days"), (True, "invalid_days")]
)
def test_an_extension_is_of_1_to_90_days(yanis, monthly, camille, days, code):
    pass_obj = buy(camille, monthly)
    with pytest.raises(services.BillingError) as caught:
        services.pass_extend(pass_obj=pass_obj, days=days, by=yanis, reason="Non")
    assert caught.value.code == code
    assert spans(pass_obj) == [(1, TODAY, date(2026, 4, 9))]


@pytest.mark.parametrize("status", [PassStatus.CANCELLED, PassStatus.EXPIRED])
def test_an_ended_pass_is_not_extended(yanis, monthly, camille, status):
    pass_obj = buy(camille, monthly)
    Pass.objects.filter(pk=pass_obj.pk).update(status=status)
    with pytest.raises(services.BillingError) as caught:
        services.pass_extend(pass_obj=pass_obj, days=5, by=yanis, reason="Non")
    assert caught.value.code == "not_allowed"


# --- the admin: credit notes ---------------------------------------------------------------------------


def credit_url(invoice):
    return reverse("admin:billing_invoice_credit_note", args=[invoice.pk])


def change_url(invoice):
    return reverse("admin:billing_invoice_change", args=[invoice.pk])


def credit(client, invoice, scope="partial", amount="", reason="Geste commercial", credited_before="0.00"):
    data = {"scope": scope, "amount": amount, "reason": reason, "credited_before": credited_before}
    return client.post(credit_url(invoice), data)


def test_yanis_refunds_half_of_a_payment_with_a_credit_note(
    as_yanis, yanis, monthly, camille, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = invoice_of(buy(camille, monthly))
    pay_all(invoice, by=yanis)
    page = html(as_yanis.get(change_url(invoice)))
    assert credit_url(invoice) in page
    form = html(as_yanis.get(credit_url(invoice)))
    assert "The whole invoice (300.00 €)" in form
    assert "Part of it" in form
    with django_capture_on_commit_callbacks(execute=True):
        response = credit(as_yanis, invoice, amount="150.00")
    assert response.status_code == 302
    assert response["Location"] == change_url(invoice)
    page = html(as_yanis.get(response["Location"]))
    assert "Credit note PAR-AV-2026-00001 issued for 150.00 € on PAR-2026-00001" in page
    assert "150.00 € was paid and is now to be refunded to the member." in page
    assert "PAR-AV-2026-00001" in page  # among the invoice's credit notes
    assert '<div class="readonly"><strong>150.00 €</strong></div>' in page  # to refund
    assert len(mailoutbox) == 1
    assert entries("invoice.credit_note")[0].actor == yanis


def test_a_full_credit_note_from_the_admin(as_yanis, monthly, camille, django_capture_on_commit_callbacks):
    invoice = invoice_of(buy(camille, monthly))
    with django_capture_on_commit_callbacks(execute=True):
        response = credit(as_yanis, invoice, scope="full", reason="Vendu par erreur")
    assert response.status_code == 302
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.CREDITED
    note = invoice.credit_notes.get()
    assert note.gross == Decimal("-300.00")
    assert "Vendu par erreur" in note.lines.get().description
    page = html(as_yanis.get(change_url(invoice)))
    assert credit_url(invoice) not in page  # nothing is left to credit
    assert "This invoice is already fully credited." in html(as_yanis.get(credit_url(invoice), follow=True))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"amount": ""}, "Enter the amount to credit."),
        ({"amount": "abc"}, "Enter a number."),
        ({"amount": "300.01"}, "at most what is not credited yet on this invoice (300.00 EUR)"),
        ({"amount": "0.03"}, "credit 0.02 or 0.04 EUR"),
        ({"amount": "10", "reason": ""}, "This field is required."),
        ({"amount": "10", "scope": "everything"}, "Select a valid choice."),
        ({"amount": "10", "credited_before": "50.00"}, "This invoice was credited meanwhile"),
    ],
)
def test_bad_credit_note_input_is_a_form_error(as_yanis, monthly, camille, data, error):
    invoice = invoice_of(buy(camille, monthly))
    response = credit(as_yanis, invoice, **data)
    assert response.status_code == 200
    assert error in html(response)
    assert not invoice.credit_notes.exists()
    assert not AuditEntry.objects.exists()


def test_after_a_partial_credit_the_page_offers_only_the_rest(as_yanis, yanis, monthly, camille):
    invoice = invoice_of(buy(camille, monthly))
    services.credit_note_partial(
        invoice=invoice, amount_gross=Decimal("100.00"), reason="Un", today=TODAY, by=yanis
    )
    page = html(as_yanis.get(credit_url(invoice)))
    assert "The whole invoice" not in page
    assert 'placeholder="200.00"' in page
    assert "200.00 €" in page  # can still be credited
    response = credit(as_yanis, invoice, scope="full", reason="Tout")
    assert response.status_code == 200
    assert "Select a valid choice." in html(response)
    # What is still due on the invoice takes the credit into account.
    assert 'value="200.00"' in html(
        as_yanis.get(reverse("admin:billing_invoice_record_payment", args=[invoice.pk]))
    )


def test_an_invoice_at_several_rates_offers_only_a_full_credit_note(as_yanis, paris, camille):
    lines = [
        pricing.make_line("Bureau", Decimal(1), Decimal("100.00"), Decimal("0.20")),
        pricing.make_line("Repas", Decimal(1), Decimal("10.00"), Decimal("0.10")),
    ]
    invoice = services.invoice_issue(space=paris, member=camille, lines=lines, issue_date=TODAY)
    page = html(as_yanis.get(credit_url(invoice)))
    assert "The whole invoice (131.00 €)" in page
    assert "Part of it" not in page
    assert "only a full credit note is possible" in page
    response = credit(as_yanis, invoice, amount="10.00")
    assert response.status_code == 200
    assert not invoice.credit_notes.exists()


def test_a_credit_note_page_refuses_credit_notes_and_other_spaces_invoices(as_yanis, monthly, camille, lille):
    theirs = invoice_of(buy(camille, monthly_plan(lille)))
    assert as_yanis.get(credit_url(theirs)).status_code == 404
    assert credit(as_yanis, theirs, amount="10.00").status_code == 404
    assert not theirs.credit_notes.exists()
    note = services.credit_note_issue(invoice=invoice_of(buy(camille, monthly)), today=TODAY)
    response = as_yanis.get(credit_url(note), follow=True)
    assert "A credit note is not credited again." in html(response)
    assert as_yanis.get(reverse("admin:billing_invoice_credit_note", args=["nope"])).status_code == 404


def test_staff_who_run_no_space_cannot_credit(client, monthly, camille):
    client.force_login(ManagerFactory())
    invoice = invoice_of(buy(camille, monthly))
    assert client.get(credit_url(invoice)).status_code == 403
    assert credit(client, invoice, amount="10.00").status_code == 403


# --- the admin: passes -----------------------------------------------------------------------------------


def act(client, action, passes, **form):
    data = {"action": action, "_selected_action": [p.pk for p in passes]}
    if form:
        data.update(apply="1", **form)
    return client.post(reverse("admin:billing_pass_changelist"), data, follow=bool(form))


def test_suspend_restore_and_extend_from_the_pass_list(as_yanis, yanis, past_due, monthly, camille):
    page = html(act(as_yanis, "suspend", [past_due]))
    assert "Suspend passes" in page
    assert "John Smith (john@example.com)" in page
    page = html(act(as_yanis, "suspend", [past_due], reason="Trois relances"))
    assert "1 pass suspended; the member is told by e-mail." in page
    assert Pass.objects.get(pk=past_due.pk).status == PassStatus.SUSPENDED

    page = html(act(as_yanis, "restore", [past_due], reason="Paiement promis"))
    assert "1 pass restored." in page
    assert "is usable again although PAR-2026-00001 is still unpaid" in page
    assert Pass.objects.get(pk=past_due.pk).status == PassStatus.ACTIVE

    other = buy(camille, monthly)
    page = html(act(as_yanis, "extend", [other], days="10", reason="Travaux"))
    assert "1 pass extended by 10 days." in page
    assert "now runs until April 19, 2026" in page
    assert [entry.action for entry in AuditEntry.objects.order_by("pk")] == [
        "pass.suspend",
        "pass.restore",
        "pass.extend",
    ]
    assert {entry.actor for entry in AuditEntry.objects.all()} == {yanis}


def test_a_refused_pass_action_is_a_message_not_an_error(as_yanis, monthly, camille):
    active = buy(camille, monthly)
    page = html(act(as_yanis, "suspend", [active], reason="Non"))
    assert "Only a pass that is past due" in page
    assert Pass.objects.get(pk=active.pk).status == PassStatus.ACTIVE
    page = html(act(as_yanis, "restore", [active], reason="Non"))
    assert "This pass is not suspended." in page


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"days": "0", "reason": "Geste"}, "greater than or equal to 1"),
        ({"days": "91", "reason": "Geste"}, "less than or equal to 90"),
        ({"days": "dix", "reason": "Geste"}, "Enter a whole number."),
        ({"days": "10", "reason": ""}, "This field is required."),
    ],
)
def test_bad_extension_input_is_a_form_error(as_yanis, monthly, camille, form, error):
    pass_obj = buy(camille, monthly)
    response = as_yanis.post(
        reverse("admin:billing_pass_changelist"),
        {"action": "extend", "_selected_action": [pass_obj.pk], "apply": "1", **form},
    )
    assert response.status_code == 200
    assert error in html(response)
    assert spans(pass_obj) == [(1, TODAY, date(2026, 4, 9))]


def test_pass_actions_leave_other_spaces_passes_alone(as_yanis, camille, lille):
    theirs = buy(camille, monthly_plan(lille))
    response = act(as_yanis, "extend", [theirs], days="10", reason="Intrus")
    assert response.status_code == 200
    assert spans(theirs) == [(1, TODAY, date(2026, 4, 9))]
    assert not AuditEntry.objects.exists()


def test_auto_renewal_switched_in_the_admin_is_in_the_audit_log(as_yanis, yanis, monthly, camille):
    pass_obj = buy(camille, monthly)
    act(as_yanis, "cancel_at_period_end", [pass_obj])
    (entry,) = entries("pass.auto_renew")
    assert (entry.actor, entry.before, entry.after) == (yanis, {"auto_renew": True}, {"auto_renew": False})


def test_a_member_switching_auto_renewal_writes_no_audit_entry(monthly, camille):
    services.pass_set_auto_renew(pass_obj=buy(camille, monthly), auto_renew=False)
    assert not AuditEntry.objects.exists()


# --- the admin: plans, and the audit log itself ------------------------------------------------------------


def test_a_change_of_price_and_tiers_is_in_the_audit_log(as_yanis, yanis, monthly):
    from tests.billing.test_admin import current_tiers, plan_data

    tiers = [*current_tiers(monthly), (None, 13, "210.00", False)]
    url = reverse("admin:billing_plan_change", args=[monthly.pk])
    response = as_yanis.post(url, plan_data(monthly, tiers, unit_price="260"))
    assert response.status_code == 302
    (entry,) = entries("plan.change")
    assert (entry.actor, entry.space_id, entry.target_id) == (yanis, monthly.space_id, str(monthly.pk))
    assert entry.before == {"unit_price": "250.00", "tiers": [[4, "230.00"]]}
    assert entry.after == {"unit_price": "260.00", "tiers": [[4, "230.00"], [13, "210.00"]]}
    # Saved again without a change: nothing more to record.
    as_yanis.post(url, plan_data(monthly, current_tiers(monthly), unit_price="260.00"))
    assert len(entries("plan.change")) == 1


def test_the_manager_reads_the_audit_log_of_their_spaces(as_yanis, yanis, past_due, lille, camille):
    services.pass_suspend(pass_obj=past_due, by=yanis, reason="Relances sans réponse", now=NOW)
    louise = ManagerFactory(email="louise@example.com", spaces=[lille])
    theirs = buy(camille, monthly_plan(lille))
    services.pass_extend(pass_obj=theirs, days=3, by=louise, reason="Lille seulement")
    page = html(as_yanis.get(reverse("admin:members_auditentry_changelist")))
    assert "Relances sans réponse" in page
    assert "pass.suspend" in page
    assert "Lille seulement" not in page
