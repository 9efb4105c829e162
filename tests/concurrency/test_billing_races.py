"""Renewal runs and invoice issues at the same moment: one period and one invoice per (pass, period
start), and invoice numbers without collision or gap. On PostgreSQL with a control that removes the
guard (row locks and the unique key) and observes the duplicates the guard prevents."""

import time
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from billing import pricing, services
from billing.models import Invoice, Pass, PassPeriod
from tests.concurrency.conftest import ON_POSTGRES, postgres_only, run_concurrently
from tests.factories import PlanFactory, SpaceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")
RENEWAL_DAY = datetime(2026, 4, 1, 10, tzinfo=PARIS)


@pytest.fixture
def passes():
    space = SpaceFactory(invoice_prefix="RCE")
    plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("200"))
    members = [UserFactory(member__display_name=f"Membre {n}") for n in range(20)]
    return [
        services.pass_purchase(
            member=m, plan=plan, start=date(2026, 3, 2), now=datetime(2026, 3, 2, 9, tzinfo=PARIS)
        )
        for m in members
    ]


def renew(_index=0):
    services.renew_due_passes(now=RENEWAL_DAY, chunk_size=7)


def test_two_concurrent_runs_then_three_more_renew_each_pass_once(passes):
    assert run_concurrently(renew, 2) == []
    for _ in range(3):
        renew()
    assert PassPeriod.objects.count() == 2 * len(passes)
    assert Invoice.objects.count() == 2 * len(passes)
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 2 * len(passes) + 1))


def test_concurrent_issues_get_consecutive_numbers(passes):
    space = passes[0].space
    member = passes[0].member
    line = pricing.make_line("Café", Decimal(1), Decimal("2.50"), Decimal("0.20"))

    def issue(_index):
        for _ in range(5):
            services.invoice_issue(space=space, member=member, lines=[line], issue_date=date(2026, 4, 1))

    assert run_concurrently(issue, 8) == []
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, len(passes) + 8 * 5 + 1))


GUARD_CONSTRAINTS = {
    "billing_passperiod": {
        "pass_period_once": "UNIQUE (pass_id, start_date)",
        "pass_period_number_once": "UNIQUE (pass_id, number)",
    },
    "billing_invoice": {"billing_invoice_idempotency_key_key": "UNIQUE (idempotency_key)"},
    "billing_payment": {"billing_payment_idempotency_key_key": "UNIQUE (idempotency_key)"},
}


@postgres_only
def test_control_without_the_guard_the_same_runs_duplicate_periods(passes, monkeypatch):
    """Drops the unique keys and the row locks and holds both runs between their read and their write:
    the duplicates appear, so the test above can fail."""
    assert ON_POSTGRES
    with connection.cursor() as cursor:
        for table, constraints in GUARD_CONSTRAINTS.items():
            for name in constraints:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    original_issue_all = services._issue_all
    monkeypatch.setattr(type(Pass.objects), "select_for_update", lambda self, **kwargs: self.all())

    def slow_issue_all(drafts):
        time.sleep(0.5)  # both runs have read "no next period yet" by now
        return original_issue_all(drafts)

    monkeypatch.setattr(services, "_issue_all", slow_issue_all)
    try:
        assert (
            run_concurrently(lambda _i: services.renew_due_passes(now=RENEWAL_DAY, chunk_size=100), 2) == []
        )
        assert PassPeriod.objects.count() == 3 * len(passes)  # every pass renewed twice
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE billing_payment, billing_creditentry, billing_passperiod, billing_invoiceline, "
                "billing_invoice, billing_invoicesequence, billing_pass CASCADE"
            )
            for table, constraints in GUARD_CONSTRAINTS.items():
                for name, definition in constraints.items():
                    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
