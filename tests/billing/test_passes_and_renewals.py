"""Buying a pass, gap-free invoice numbers, and the renewal job (idempotent, catch-up, tiered)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from billing import services
from billing.models import (
    CreditEntry,
    Invoice,
    InvoiceStatus,
    IssuedDocumentError,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    PriceTier,
)
from tests.factories import PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)


@pytest.fixture
def space():
    return SpaceFactory(slug="lille", invoice_prefix="LIL")


@pytest.fixture
def monthly(space):
    plan = PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))
    PriceTier.objects.create(plan=plan, first_period=4, unit_price=Decimal("230.00"))
    PriceTier.objects.create(plan=plan, first_period=13, unit_price=Decimal("210.00"))
    return plan


@pytest.fixture
def member():
    return UserFactory(
        member__display_name="Camille Martin", member__billing_address="3 rue Nationale, Lille"
    )


def buy(member, plan, start, now=None):
    return services.pass_purchase(member=member, plan=plan, start=start, now=now or at(start))


def test_buying_a_monthly_pass_creates_its_period_invoice_and_pending_payment(member, monthly):
    pass_obj = buy(member, monthly, date(2026, 1, 31))
    period = pass_obj.periods.get()
    assert (period.start_date, period.end_date, period.unit_price) == (
        date(2026, 1, 31),
        date(2026, 2, 27),
        Decimal("250.00"),
    )
    invoice = period.invoice
    assert invoice.number == "LIL-2026-00001"
    assert (invoice.net, invoice.vat, invoice.gross) == (
        Decimal("250.00"),
        Decimal("50.00"),
        Decimal("300.00"),
    )
    assert (invoice.service_start, invoice.service_end) == (date(2026, 1, 31), date(2026, 2, 27))
    assert invoice.buyer["name"] == "Camille Martin"
    assert invoice.seller["vat_number"] == "FR32812345672"
    assert len(invoice.content_hash) == 64
    payment = invoice.payments.get()
    assert (payment.status, payment.amount) == (PaymentStatus.PENDING, Decimal("300.00"))
    assert pass_obj.status == PassStatus.ACTIVE


def test_a_pack_grants_its_day_credits_until_it_expires(member, space):
    pack = PlanFactory(space=space, name="Carnet 10", kind="pack_10", unit_price=Decimal("180"), desk_days=10)
    pass_obj = buy(member, pack, date(2026, 8, 31))
    grant = CreditEntry.objects.get(source_pass=pass_obj)
    assert (grant.amount, grant.expires_on) == (10, date(2027, 2, 27))


@pytest.mark.parametrize(
    ("start", "error"),
    [(date(2026, 3, 1), "start_in_past"), (date(2026, 6, 1), "start_too_far")],
)
def test_a_pass_cannot_start_in_the_past_or_too_far_ahead(member, monthly, start, error):
    with pytest.raises(services.BillingError) as caught:
        services.pass_purchase(member=member, plan=monthly, start=start, now=at(date(2026, 3, 10)))
    assert caught.value.code == error


def test_issued_invoices_cannot_be_edited_or_deleted(member, monthly):
    invoice = buy(member, monthly, date(2026, 3, 2)).periods.get().invoice
    invoice.net = Decimal("1")
    with pytest.raises(IssuedDocumentError):
        invoice.save()
    with pytest.raises(IssuedDocumentError):
        invoice.delete()
    with pytest.raises(IssuedDocumentError):
        invoice.lines.first().save()


def test_numbers_follow_each_other_per_space_and_year_and_restart_each_year(member, monthly, space):
    other = PlanFactory(space=SpaceFactory(invoice_prefix="PAR"), kind="day_pass", unit_price=Decimal("25"))
    numbers = [
        buy(member, monthly, date(2026, 12, 30)).periods.get().invoice.number,
        buy(member, other, date(2026, 12, 30)).periods.get().invoice.number,
        buy(member, monthly, date(2026, 12, 31)).periods.get().invoice.number,
        buy(member, monthly, date(2027, 1, 2)).periods.get().invoice.number,
    ]
    assert numbers == ["LIL-2026-00001", "PAR-2026-00001", "LIL-2026-00002", "LIL-2027-00001"]


def test_a_credit_note_has_its_own_sequence_and_cites_the_invoice(member, monthly, space):
    invoice = buy(member, monthly, date(2026, 3, 2)).periods.get().invoice
    from billing import pricing

    line = pricing.make_line("Remboursement partiel", Decimal(1), Decimal("125.00"), Decimal("0.20"))
    note = services.invoice_issue(
        space=space,
        member=member,
        lines=[line],
        issue_date=date(2026, 3, 5),
        kind="credit_note",
        corrects=invoice,
    )
    assert note.number == "LIL-AV-2026-00001"
    assert note.corrects == invoice


def renew(now, **kwargs):
    return services.renew_due_passes(now=now, **kwargs)


def test_the_job_renews_a_pass_once_the_day_before_its_next_period(member, monthly):
    pass_obj = buy(member, monthly, date(2026, 1, 31))
    assert renew(at(date(2026, 2, 25))).renewed == 0  # not due yet
    report = renew(at(date(2026, 2, 26)))
    assert report.renewed == 1
    assert report.invoices == ["LIL-2026-00002"]
    latest = pass_obj.periods.order_by("-number").first()
    assert (latest.number, latest.start_date, latest.end_date) == (2, date(2026, 2, 28), date(2026, 3, 30))
    assert renew(at(date(2026, 2, 26), 23)).renewed == 0  # a second run the same day: nothing to do
    assert renew(at(date(2026, 2, 27))).renewed == 0
    assert Invoice.objects.count() == 2


def test_a_missed_month_is_caught_up_one_period_per_run_and_anchoring_returns_to_the_31st(member, monthly):
    pass_obj = buy(member, monthly, date(2026, 1, 31))
    # The job did not run for two months: each run renews one period, until the pass is up to date.
    late = at(date(2026, 4, 15))
    while renew(late).renewed:
        pass
    starts = list(pass_obj.periods.order_by("number").values_list("start_date", "end_date"))
    assert (
        starts
        == [
            (date(2026, 1, 31), date(2026, 2, 27)),
            (date(2026, 2, 28), date(2026, 3, 30)),
            (date(2026, 3, 31), date(2026, 4, 29)),
            (date(2026, 4, 30), date(2026, 5, 30)),
        ][: len(starts)]
    )
    assert starts[-1][1] >= date(2026, 4, 15)


def test_renewals_apply_the_tier_of_the_next_period(member, monthly):
    pass_obj = buy(member, monthly, date(2026, 1, 5))
    day = date(2026, 1, 5)
    for _ in range(14):
        day += timedelta(days=31)
        renew(at(day))
    prices = list(pass_obj.periods.order_by("number").values_list("number", "unit_price"))
    assert prices[:5] == [
        (1, Decimal("250.00")),
        (2, Decimal("250.00")),
        (3, Decimal("250.00")),
        (4, Decimal("230.00")),
        (5, Decimal("230.00")),
    ]
    assert dict(prices)[13] == Decimal("210.00")


def test_auto_renew_off_ends_the_pass_after_its_paid_period(member, monthly):
    pass_obj = buy(member, monthly, date(2026, 3, 2))
    services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=False)
    assert renew(at(date(2026, 4, 1))).renewed == 0
    report = renew(at(date(2026, 4, 2)))
    pass_obj.refresh_from_db()
    assert (report.renewed, report.expired, pass_obj.status) == (0, 1, PassStatus.EXPIRED)


def test_a_dry_run_reports_without_writing(member, monthly):
    buy(member, monthly, date(2026, 3, 2))
    report = renew(at(date(2026, 4, 1)), dry_run=True)
    assert report.renewed == 1
    assert PassPeriod.objects.count() == 1
    assert Invoice.objects.count() == 1


def test_the_renewal_key_makes_a_replayed_chunk_a_no_op(member, monthly):
    """A second attempt at the same (pass, period start) cannot insert anything: the job re-reads the
    last period under lock, and the unique constraint is the backstop."""
    from django.db import IntegrityError, transaction

    pass_obj = buy(member, monthly, date(2026, 3, 2))
    renew(at(date(2026, 4, 1)))
    period = pass_obj.periods.get(number=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        PassPeriod.objects.create(
            pass_obj=pass_obj,
            number=3,
            start_date=period.start_date,
            end_date=period.end_date,
            unit_price=period.unit_price,
            vat_rate=period.vat_rate,
        )


def test_recording_payments_partially_then_fully_marks_the_invoice_paid(member, monthly, space):
    invoice = buy(member, monthly, date(2026, 3, 2)).periods.get().invoice
    manager = UserFactory(is_staff=True)
    services.payment_record(
        invoice=invoice, amount=Decimal("100.00"), method="transfer", received_on=date(2026, 3, 3), by=manager
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED
    with pytest.raises(services.BillingError):
        services.payment_record(
            invoice=invoice, amount=Decimal("200.01"), method="cash", received_on=date(2026, 3, 4), by=manager
        )
    services.payment_record(
        invoice=invoice, amount=Decimal("200.00"), method="cash", received_on=date(2026, 3, 4), by=manager
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert services.amount_paid(invoice) == Decimal("300.00")
    assert not Payment.objects.filter(invoice=invoice, status=PaymentStatus.PENDING).exists()


def test_time_machine_400_days_gives_one_invoice_per_period_for_every_pass(member, space, monthly):
    """Up to two job runs a day (sometimes none) over 400 days across both DST changes, for passes
    anchored on the 29th, 30th, 31st and the 1st, and an annual one: exactly one period and one invoice
    per (pass, period start), and the periods tile without gaps."""
    import random

    annual = PlanFactory(space=space, name="Annuel", kind="annual", unit_price=Decimal("2500"))
    starts = [date(2026, 1, 29), date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]
    passes = [buy(member, monthly, start, now=at(date(2026, 1, 29))) for start in starts]
    passes.append(buy(member, annual, date(2026, 2, 28), now=at(date(2026, 1, 29))))
    rng = random.Random(400)
    day = date(2026, 1, 29)
    for _ in range(400):
        for _run in range(rng.choice([0, 1, 1, 2])):
            renew(datetime(day.year, day.month, day.day, rng.randrange(24), tzinfo=UTC))
        day += timedelta(days=1)
    renew(at(day))  # a last catch-up
    for pass_obj in passes:
        rows = list(pass_obj.periods.order_by("number").values_list("start_date", "end_date", "invoice_id"))
        assert len({start for start, _end, _inv in rows}) == len(rows)
        assert len({inv for _s, _e, inv in rows}) == len(rows)
        for (_s, end, _i), (next_start, _e, _j) in pairwise(rows):
            assert end + timedelta(days=1) == next_start
        assert rows[-1][1] >= day - timedelta(days=1)
    numbers = sorted(Invoice.objects.filter(year=2026).values_list("sequence", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))  # no gap


def test_the_command_reports_what_it_would_do_then_does_it(member, monthly):
    from io import StringIO

    import time_machine
    from django.core.management import call_command

    buy(member, monthly, date(2026, 3, 2))
    with time_machine.travel(at(date(2026, 4, 1)), tick=False):
        out = StringIO()
        call_command("renew_passes", "--dry-run", stdout=out)
        assert "would renew 1" in out.getvalue()
        assert PassPeriod.objects.count() == 1
        out = StringIO()
        call_command("renew_passes", stdout=out)
        assert "renewed 1" in out.getvalue()
        assert "LIL-2026-00002" in out.getvalue()


def test_the_celery_task_runs_the_job_and_is_scheduled_hourly(member, monthly):
    import time_machine

    from billing.tasks import renew_passes
    from coworking.celery import app

    buy(member, monthly, date(2026, 3, 2))
    with time_machine.travel(at(date(2026, 4, 1)), tick=False):
        assert renew_passes.delay().get() == {"renewed": 1, "expired": 0}
    assert app.conf.beat_schedule["renew-passes"]["task"] == "billing.renew_passes"
    assert renew_passes.acks_late


class Crash(Exception):
    pass


def _counts():
    return (PassPeriod.objects.count(), Invoice.objects.count(), Payment.objects.count())


def test_a_crash_between_the_invoices_and_the_payment_attempts_then_a_rerun_renews_once(
    member, monthly, monkeypatch
):
    buy(member, monthly, date(2026, 3, 2))
    before = _counts()

    def crash(*args, **kwargs):
        raise Crash

    # The chunk's transaction holds periods, invoices and payment attempts: a crash in between
    # leaves none of them (and no number is used up).
    with monkeypatch.context() as patch:
        patch.setattr(services, "_payment_attempts", crash)
        with pytest.raises(Crash):
            renew(at(date(2026, 4, 1)))
    assert _counts() == before
    renew(at(date(2026, 4, 1)))
    renew(at(date(2026, 4, 1)))
    assert _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert Invoice.objects.order_by("sequence").last().number == "LIL-2026-00002"


class FlakyCardGateway:
    """A card gateway that fails once after commit (the process dies mid-call), then records calls."""

    name = "card"

    def __init__(self):
        self.calls = []
        self.fail = True

    def charge_many(self, requests):
        if self.fail:
            self.fail = False
            raise Crash
        self.calls.append([request.idempotency_key for request in requests])
        from billing.gateways import ChargeResult

        return [ChargeResult(status="succeeded", method="card", reference="ch_1") for _ in requests]


@pytest.mark.django_db(transaction=True)
def test_a_crash_in_the_gateway_after_commit_then_a_rerun_changes_nothing_more(member, monthly):
    buy(member, monthly, date(2026, 3, 2))
    gateway = FlakyCardGateway()
    with pytest.raises(Crash):
        services.renew_due_passes(now=at(date(2026, 4, 1)), gateway=gateway)
    after_crash = _counts()
    pending = Payment.objects.get(status=PaymentStatus.PENDING, idempotency_key__startswith="renewal:")
    assert pending.gateway == "card"
    for _ in range(3):
        services.renew_due_passes(now=at(date(2026, 4, 1)), gateway=gateway)
    # No second period, invoice or attempt, and the gateway is not called again for that period:
    # the pending attempt, keyed by (pass, period start), is what a retry of the charge would reuse.
    assert _counts() == after_crash
    assert gateway.calls == []
