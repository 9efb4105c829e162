"""Dunning (past due, reminders after 1, 3 and 7 days, suspension after the grace period, restoration on
payment) and the notice before an automatic renewal: one idempotent catch-up job whose e-mails are
recorded as Notice rows with their cause and sent once, after commit or by the sweep."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext

from billing import dunning, notifications, periods, services
from billing.models import Invoice, Notice, NoticeKind, Pass, PassStatus, PriceTier
from tests.concurrency.conftest import postgres_only, run_concurrently
from tests.factories import PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
START = date(2026, 3, 2)  # a pass bought and starting that day: its invoice is due that day (day 0)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def day(n: int) -> date:
    """Day n after the due date of the first invoice."""
    return START + timedelta(days=n)


@pytest.fixture
def space(db):
    return SpaceFactory(
        slug="lille",
        name="Lille Centre",
        invoice_prefix="LIL",
        email="lille@example.com",
        bank_iban="FR7630006000011234567890189",
        bank_bic="AGRIFRPPXXX",
    )


@pytest.fixture
def monthly(space):
    return PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))


@pytest.fixture
def camille(db):
    return UserFactory(email="camille@example.com", member__display_name="Camille Martin")


@pytest.fixture
def john(db):
    return UserFactory(
        email="john@example.com", member__display_name="John Smith", member__preferred_language="en"
    )


@pytest.fixture
def manager(db):
    return UserFactory(email="manager@example.com", is_staff=True)


@pytest.fixture
def dun(django_capture_on_commit_callbacks):
    """The job, with its after-commit e-mails sent as they are in production (the test's transaction
    never commits)."""

    def run(now: datetime, **kwargs) -> dunning.DunningReport:
        with django_capture_on_commit_callbacks(execute=True):
            return dunning.run(now, **kwargs)

    return run


def buy(member, plan, start=START):
    return services.pass_purchase(member=member, plan=plan, start=start, now=at(start, 9))


def first_invoice(pass_obj) -> Invoice:
    return pass_obj.periods.get(number=1).invoice


def pay(invoice, manager, on: date) -> None:
    invoice.refresh_from_db()
    due = invoice.gross - services.amount_paid(invoice)
    services.payment_record(invoice=invoice, amount=due, method="transfer", received_on=on, by=manager)


def fresh(pass_obj) -> Pass:
    return Pass.objects.get(pk=pass_obj.pk)


# --- the day rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today_offset", "step"),
    [(-1, 0), (0, 1), (1, 1), (2, 2), (5, 2), (6, 3), (30, 3)],
)
def test_reminder_step_n_is_due_from_past_due_since_plus_n_minus_one_days(today_offset, step):
    since = date(2026, 3, 3)
    assert dunning.reminder_step(since, since + timedelta(days=today_offset)) == step


def test_suspension_comes_on_the_day_after_the_grace_period(settings):
    settings.BILLING_GRACE_DAYS = 10
    # due on 2 March (day 0), past due from 3 March (day 1), grace days 1 to 10, suspended on day 11
    assert dunning.suspension_day(dunning.past_due_since(date(2026, 3, 2))) == date(2026, 3, 13)


def test_renewal_notice_dates(settings):
    settings.BILLING_RENEWAL_LEAD_DAYS = 1
    end = date(2026, 4, 1)  # next period starts 2 April
    assert dunning.renewal_day(end) == date(2026, 3, 31)
    assert dunning.switch_off_deadline(end) == date(2026, 3, 30)
    assert dunning.renewal_notice_from("monthly", end) == date(2026, 3, 30)  # 3 days before 2 April
    annual_end = date(2027, 3, 1)
    deadline = dunning.switch_off_deadline(annual_end)
    sent = dunning.renewal_notice_from("annual", annual_end)
    # L215-1: between three months and one month before the deadline for refusing the renewal
    assert periods.add_months_anchored(sent, 1) <= deadline <= periods.add_months_anchored(sent, 3)
    assert sent <= annual_end + timedelta(days=1) - timedelta(days=30)


# --- the ladder --------------------------------------------------------------------------------------------


def test_the_full_ladder_from_due_date_to_suspension_and_back_on_payment(
    dun, john, monthly, manager, mailoutbox
):
    pass_obj = buy(john, monthly)
    invoice = first_invoice(pass_obj)
    assert invoice.due_date == day(0)
    timeline = {}
    for n in range(0, 16):
        before = len(mailoutbox)
        for hour in (0, 11, 23):  # three runs a day, from just after local midnight
            dun(at(day(n), hour, 30))
        timeline[n] = (fresh(pass_obj).status, [m.subject for m in mailoutbox[before:]])

    assert timeline[0] == (PassStatus.ACTIVE, [])
    assert timeline[1] == (PassStatus.PAST_DUE, ["[Coworking] Unpaid invoice LIL-2026-00001, Lille Centre"])
    assert timeline[2] == (PassStatus.PAST_DUE, [])
    assert timeline[3] == (
        PassStatus.PAST_DUE,
        ["[Coworking] Reminder: invoice LIL-2026-00001 is still unpaid"],
    )
    assert [timeline[n] for n in (4, 5, 6)] == [(PassStatus.PAST_DUE, [])] * 3
    assert timeline[7][1] == ["[Coworking] Last reminder: your pass will be suspended on 13 March 2026"]
    assert [timeline[n] for n in (8, 9, 10)] == [(PassStatus.PAST_DUE, [])] * 3
    assert timeline[11] == (
        PassStatus.SUSPENDED,
        ["[Coworking] Your pass Mensuel is suspended, Lille Centre"],
    )
    assert [timeline[n] for n in range(12, 16)] == [(PassStatus.SUSPENDED, [])] * 4

    keys = sorted(Notice.objects.values_list("key", flat=True))
    reminders = [f"reminder:{invoice.pk}:{n}" for n in (1, 3, 7)]
    assert keys == sorted([*reminders, f"suspension:{invoice.pk}"])
    assert not Notice.objects.filter(sent_at__isnull=True).exists()
    assert {m.to[0] for m in mailoutbox} == {"john@example.com"}
    assert mailoutbox[0].reply_to == ["lille@example.com"]

    pay(invoice, manager, day(15))
    pass_obj.refresh_from_db()
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (PassStatus.ACTIVE, None, 0)
    report = dun(at(day(16)))
    assert (report.past_due, report.reminders, report.suspended) == (0, 0, 0)
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    assert len(mailoutbox) == 4


def test_the_day_changes_at_local_midnight_not_at_utc_midnight(dun, camille, monthly, mailoutbox):
    pass_obj = buy(camille, monthly)
    # 23:59 in Paris on the due date is still day 0, although it is already 22:59 UTC...
    dun(datetime(2026, 3, 2, 22, 59, tzinfo=UTC))
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    # ...and one minute later it is day 1 in Paris (but still 2 March in UTC).
    report = dun(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    pass_obj.refresh_from_db()
    assert (report.past_due, report.reminders) == (1, 1)
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (
        PassStatus.PAST_DUE,
        date(2026, 3, 3),
        1,
    )


def test_running_twice_or_again_the_same_day_sends_nothing_more(dun, camille, monthly, mailoutbox):
    buy(camille, monthly)
    first = dun(at(day(3), 1))
    again = dun(at(day(3), 1))
    later = dun(at(day(3), 23))
    assert (first.past_due, first.reminders, first.sent) == (1, 1, 1)
    assert (again.past_due, again.reminders, again.sent) == (0, 0, 0)
    assert (later.past_due, later.reminders, later.sent) == (0, 0, 0)
    assert len(mailoutbox) == 1
    assert Notice.objects.count() == 1


def test_a_late_run_catches_up_with_one_email_the_latest_step_due(dun, john, monthly, mailoutbox):
    pass_obj = buy(john, monthly)
    invoice = first_invoice(pass_obj)
    report = dun(at(day(8)))  # the job did not run for a week
    pass_obj.refresh_from_db()
    assert (report.past_due, report.reminders) == (1, 1)
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (
        PassStatus.PAST_DUE,
        day(1),  # the day after the due date, not the day of the run
        3,
    )
    assert list(Notice.objects.values_list("key", flat=True)) == [f"reminder:{invoice.pk}:7"]
    assert len(mailoutbox) == 1
    assert "Last reminder" in mailoutbox[0].subject
    dun(at(day(9)))
    dun(at(day(10)))
    assert len(mailoutbox) == 1


def test_a_run_after_the_grace_period_suspends_with_one_email_and_no_reminder(
    dun, camille, monthly, mailoutbox
):
    pass_obj = buy(camille, monthly)
    report = dun(at(day(20)))
    assert (report.past_due, report.reminders, report.suspended) == (1, 0, 1)
    assert fresh(pass_obj).status == PassStatus.SUSPENDED
    assert [n.kind for n in Notice.objects.all()] == [NoticeKind.SUSPENSION]
    assert len(mailoutbox) == 1


def test_the_last_grace_day_is_still_past_due_and_the_next_one_suspends(dun, camille, monthly, settings):
    settings.BILLING_GRACE_DAYS = 10
    pass_obj = buy(camille, monthly)
    dun(at(day(10), 23, 59))
    assert fresh(pass_obj).status == PassStatus.PAST_DUE
    dun(at(day(11), 0, 1))
    assert fresh(pass_obj).status == PassStatus.SUSPENDED


def test_a_paid_invoice_is_never_dunned(dun, camille, monthly, manager, mailoutbox):
    pass_obj = buy(camille, monthly)
    pay(first_invoice(pass_obj), manager, day(0))
    for n in (1, 3, 7, 11, 20):
        report = dun(at(day(n)))
        assert (report.past_due, report.reminders, report.suspended) == (0, 0, 0)
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    assert mailoutbox == []


def test_a_partly_paid_invoice_is_dunned_for_what_is_left(dun, camille, monthly, manager, mailoutbox):
    pass_obj = buy(camille, monthly)
    services.payment_record(
        invoice=first_invoice(pass_obj),
        amount=Decimal("100.00"),
        method="cash",
        received_on=day(0),
        by=manager,
    )
    dun(at(day(1)))
    assert "200,00 EUR" in mailoutbox[0].body  # 300.00 incl. VAT, less 100.00 received


def test_credit_notes_and_invoices_of_no_pass_are_not_dunned(dun, camille, monthly, space, mailoutbox):
    from billing import pricing

    line = pricing.make_line("Café", Decimal(1), Decimal("2.50"), Decimal("0.20"))
    services.invoice_issue(space=space, member=camille, lines=[line], issue_date=day(0))
    report = dun(at(day(5)))
    assert (report.examined, report.past_due) == (0, 0)
    assert mailoutbox == []


def test_a_restored_pass_with_a_new_unpaid_invoice_starts_the_ladder_again(
    dun, camille, monthly, manager, mailoutbox
):
    pass_obj = buy(camille, monthly)
    first = first_invoice(pass_obj)
    dun(at(day(1)))
    pay(first, manager, day(2))
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    # Renewed on 31 March for the period from 2 April, whose invoice is due on 2 April and not paid.
    services.renew_due_passes(now=at(date(2026, 3, 31)))
    second = pass_obj.periods.get(number=2).invoice
    assert second.due_date == date(2026, 4, 2)
    dun(at(date(2026, 4, 2), 23))
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    dun(at(date(2026, 4, 3)))
    pass_obj.refresh_from_db()
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (
        PassStatus.PAST_DUE,
        date(2026, 4, 3),
        1,
    )
    reminders = Notice.objects.filter(kind=NoticeKind.PAYMENT_REMINDER).order_by("pk")
    assert [n.key for n in reminders] == [f"reminder:{first.pk}:1", f"reminder:{second.pk}:1"]
    assert len(mailoutbox) == 2


def test_the_job_restores_a_pass_whose_overdue_invoices_are_paid_while_a_later_one_is_not_due(
    dun, camille, monthly, manager, settings, mailoutbox
):
    settings.BILLING_GRACE_DAYS = 40
    pass_obj = buy(camille, monthly)
    dun(at(day(1)))
    services.renew_due_passes(now=at(date(2026, 3, 31)))  # a past-due pass is still renewed
    pay(first_invoice(pass_obj), manager, date(2026, 3, 31))
    # The renewal invoice, due on 2 April, is unpaid, so paying does not restore the pass by itself...
    assert fresh(pass_obj).status == PassStatus.PAST_DUE
    # ...the job does: nothing is overdue any more.
    report = dun(at(date(2026, 3, 31), 11))
    pass_obj.refresh_from_db()
    assert report.restored == 1
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (PassStatus.ACTIVE, None, 0)


def test_when_the_oldest_invoice_is_paid_the_ladder_follows_the_younger_one(
    dun, camille, monthly, manager, settings, mailoutbox
):
    settings.BILLING_GRACE_DAYS = 40
    pass_obj = buy(camille, monthly)
    first = first_invoice(pass_obj)
    dun(at(day(8)))  # past due since 3 March, last reminder reached
    services.renew_due_passes(now=at(date(2026, 3, 31)))
    second = pass_obj.periods.get(number=2).invoice
    dun(at(date(2026, 4, 3)))  # both overdue: the ladder still follows the first one
    assert fresh(pass_obj).past_due_since == day(1)
    pay(first, manager, date(2026, 4, 3))
    dun(at(date(2026, 4, 6)))  # day 4 of the second invoice: one reminder, for that invoice
    pass_obj.refresh_from_db()
    assert (pass_obj.status, pass_obj.past_due_since, pass_obj.reminders_sent) == (
        PassStatus.PAST_DUE,
        date(2026, 4, 3),
        2,
    )
    assert Notice.objects.filter(key=f"reminder:{second.pk}:3").exists()


# --- e-mails: language, outbox and sweep ----------------------------------------------------------------


def test_reminders_are_in_french_for_a_french_member(dun, camille, monthly, mailoutbox):
    buy(camille, monthly)
    dun(at(day(1)))
    message = mailoutbox[0]
    with translation.override("fr"):
        expected = gettext("Unpaid invoice %(number)s, %(space)s") % {
            "number": "LIL-2026-00001",
            "space": "Lille Centre",
        }
    assert message.subject == "[Coworking] " + expected
    assert "2 mars 2026" in message.body  # Django's French dates
    assert "300,00 EUR" in message.body  # and French numbers
    assert "vendredi 13 mars 2026" in message.body  # the day it would be suspended
    assert "FR7630006000011234567890189" in message.body
    assert "Camille Martin" in message.body


def test_reminders_are_in_english_for_an_english_member(dun, john, monthly, mailoutbox):
    buy(john, monthly)
    dun(at(day(1)))
    message = mailoutbox[0]
    assert message.subject == "[Coworking] Unpaid invoice LIL-2026-00001, Lille Centre"
    assert message.to == ["john@example.com"]
    assert "Hello John Smith," in message.body
    assert "- Invoice LIL-2026-00001 of 2 March 2026, due on 2 March 2026: 300.00 EUR to pay" in message.body
    assert "If it is still unpaid on Friday 13 March 2026, your pass will be suspended" in message.body
    assert "IBAN FR7630006000011234567890189 (BIC AGRIFRPPXXX)" in message.body
    notice = Notice.objects.get()
    assert (notice.subject, notice.body, notice.email) == (message.subject, message.body, "john@example.com")


def test_the_suspension_email_says_what_suspension_means(dun, john, monthly, mailoutbox):
    buy(john, monthly)
    dun(at(day(11)))
    body = mailoutbox[0].body
    assert "is suspended: the invoice below is still unpaid 10 days after its due date" in body
    assert "you cannot make new bookings. The bookings you already have are kept." in body
    assert "active again, straight away" in body


def test_an_email_that_fails_is_sent_by_the_sweep_once(dun, camille, monthly, mailoutbox, monkeypatch):
    from django.core.mail import EmailMessage

    buy(camille, monthly)
    send = EmailMessage.send

    def smtp_down(self, *args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(EmailMessage, "send", smtp_down)
    report = dun(at(day(1)))
    assert (report.reminders, report.sent) == (1, 0)
    notice = Notice.objects.get()
    assert notice.sent_at is None  # the claim was given back
    monkeypatch.setattr(EmailMessage, "send", send)
    recorded = notice.created_at
    assert notifications.sweep(now=recorded + timedelta(minutes=1)) == 0  # the fast path may be at it
    assert notifications.sweep(now=recorded + timedelta(minutes=5)) == 1
    assert notifications.sweep(now=recorded + timedelta(minutes=15)) == 0
    assert len(mailoutbox) == 1
    notice.refresh_from_db()
    assert notice.sent_at is not None


def test_a_reminder_still_unsent_when_the_invoice_is_paid_is_dropped(
    dun, camille, monthly, manager, mailoutbox, monkeypatch
):
    pass_obj = buy(camille, monthly)
    monkeypatch.setattr(dunning, "_send_after_commit", lambda ids, report: None)  # the broker is down
    dun(at(day(1)))
    assert Notice.objects.filter(sent_at__isnull=True).count() == 1
    pay(first_invoice(pass_obj), manager, day(1))
    assert notifications.sweep(grace=timedelta(0)) == 0
    assert mailoutbox == []
    assert not Notice.objects.exists()


def test_a_claimed_notice_is_not_sent_again(dun, camille, monthly, mailoutbox, monkeypatch):
    buy(camille, monthly)
    monkeypatch.setattr(dunning, "_send_after_commit", lambda ids, report: None)
    dun(at(day(1)))
    notice = Notice.objects.get()
    assert notifications.send(notice.pk) is True
    assert notifications.send(notice.pk) is False
    assert notifications.sweep(grace=timedelta(0)) == 0
    assert len(mailoutbox) == 1


def test_a_dry_run_changes_nothing_and_sends_nothing(dun, camille, monthly, mailoutbox):
    pass_obj = buy(camille, monthly)
    report = dun(at(day(3)), dry_run=True)
    assert (report.past_due, report.reminders) == (1, 1)
    assert fresh(pass_obj).status == PassStatus.ACTIVE
    assert not Notice.objects.exists()
    assert mailoutbox == []


# --- renewal notices ------------------------------------------------------------------------------------


@pytest.fixture
def tiered(space):
    plan = PlanFactory(space=space, name="Mensuel dégressif", kind="monthly", unit_price=Decimal("250.00"))
    PriceTier.objects.create(plan=plan, first_period=2, unit_price=Decimal("200.00"))
    return plan


def renewal_notices():
    return list(Notice.objects.filter(kind=NoticeKind.RENEWAL_NOTICE))


def test_a_monthly_renewal_notice_three_days_before_with_the_next_tier_price(
    dun, camille, tiered, manager, mailoutbox
):
    pass_obj = buy(camille, tiered)  # 2 March - 1 April; the next period starts on 2 April
    pay(first_invoice(pass_obj), manager, START)
    assert dun(at(date(2026, 3, 29), 23, 59)).renewal_notices == 0
    report = dun(at(date(2026, 3, 30), 0, 30))  # 3 days before 2 April
    assert report.renewal_notices == 1
    pass_obj.refresh_from_db()
    assert pass_obj.renewal_notice_for == date(2026, 4, 2)
    (notice,) = renewal_notices()
    assert notice.key == f"renewal:{pass_obj.pk}:2026-04-02"
    (message,) = mailoutbox
    body = message.body
    assert "2 avril 2026" in body  # the next period's dates
    assert "1 mai 2026" in body
    assert "240,00 EUR" in body  # period 2 at the tier price: 200.00 + 20 % VAT
    assert "200,00 EUR" in body
    assert "40,00 EUR" in body
    assert "300,00 EUR" in body  # what the current period costs, for comparison
    assert "lundi 30 mars 2026" in body  # the last day to switch automatic renewal off
    assert "L215-1" in body
    assert "lille@example.com" in body

    for hour in (1, 12, 23):
        assert dun(at(date(2026, 3, 30), hour)).renewal_notices == 0
    # The renewal job charges what the notice announced.
    services.renew_due_passes(now=at(date(2026, 3, 31)))
    assert pass_obj.periods.get(number=2).invoice.gross == Decimal("240.00")
    assert dun(at(date(2026, 3, 31))).renewal_notices == 0
    assert len(renewal_notices()) == 1


def test_the_renewal_notice_in_english(dun, john, tiered, manager, mailoutbox, settings):
    pass_obj = buy(john, tiered)
    pay(first_invoice(pass_obj), manager, START)
    dun(at(date(2026, 3, 30)))
    (message,) = mailoutbox
    assert message.subject == "[Coworking] Your pass Mensuel dégressif renews on 2 April 2026, Lille Centre"
    assert "Next period: from 2 April 2026 to 1 May 2026 included." in message.body
    assert (
        "Price of this period: 240.00 EUR incl. VAT (200.00 EUR excl. VAT + 40.00 EUR VAT at 20%)."
        in message.body
    )
    assert "Switch automatic renewal off by Monday 30 March 2026 at the latest." in message.body
    assert "the invoice for the new period is issued on 31 March 2026" in message.body
    assert "lille@example.com" in message.body
    try:
        passes_page = settings.SITE_URL + reverse("billing:passes")
    except NoReverseMatch:  # the members' passes page is not there (yet): the e-mail says to reply
        assert "To switch it off, reply to this e-mail or write to lille@example.com." in message.body
    else:
        assert f"Switch it off in your account: {passes_page}" in message.body


def test_the_next_notice_is_for_the_following_period(dun, camille, tiered, manager):
    pass_obj = buy(camille, tiered)
    pay(first_invoice(pass_obj), manager, START)
    dun(at(date(2026, 3, 30)))
    services.renew_due_passes(now=at(date(2026, 3, 31)))  # period 2: 2 April - 1 May
    pay(pass_obj.periods.get(number=2).invoice, manager, date(2026, 4, 2))
    assert dun(at(date(2026, 4, 28))).renewal_notices == 0
    assert dun(at(date(2026, 4, 29))).renewal_notices == 1  # 3 days before 2 May
    assert fresh(pass_obj).renewal_notice_for == date(2026, 5, 2)


def test_an_annual_renewal_notice_comes_six_weeks_before_the_deadline(
    dun, camille, space, manager, mailoutbox
):
    annual = PlanFactory(space=space, name="Annuel", kind="annual", unit_price=Decimal("2400.00"))
    pass_obj = buy(camille, annual)  # 2 March 2026 - 1 March 2027, renewed (invoiced) on 28 February 2027
    pay(first_invoice(pass_obj), manager, START)
    deadline = date(2027, 2, 27)
    assert dun(at(date(2027, 1, 15))).renewal_notices == 0
    assert dun(at(date(2027, 1, 16))).renewal_notices == 1  # 42 days before the deadline
    assert date(2027, 1, 16) <= date(2027, 3, 2) - timedelta(days=30)  # so at least 30 days before
    assert periods.add_months_anchored(date(2027, 1, 16), 1) <= deadline  # L215-1: a month or more
    (message,) = mailoutbox
    assert "samedi 27 février 2027" in message.body
    assert "2 880,00 EUR" in message.body or "2880,00 EUR" in message.body


def test_no_renewal_notice_when_auto_renew_is_off_or_for_a_rolling_day_pass(
    dun, camille, tiered, space, manager
):
    pass_obj = buy(camille, tiered)
    pay(first_invoice(pass_obj), manager, START)
    services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=False)
    rolling = PlanFactory(space=space, name="Jour", kind="rolling_day", unit_price=Decimal("20"))
    rolling_pass = buy(camille, rolling)
    pay(first_invoice(rolling_pass), manager, START)
    for offset in range(25, 32):
        assert dun(at(START + timedelta(days=offset))).renewal_notices == 0
    assert not Notice.objects.exists()


# --- the command, the task and the schedule ----------------------------------------------------------------


def test_the_command_reports_what_it_would_do_then_does_it(camille, monthly, mailoutbox):
    pass_obj = buy(camille, monthly)
    with time_machine.travel(at(day(3)), tick=False):
        out = StringIO()
        call_command("run_dunning", "--dry-run", stdout=out)
        assert "would make 1 pass(es) past due" in out.getvalue()
        assert "would send 1 payment reminder(s)" in out.getvalue()
        assert f"past due pass {pass_obj.pk} camille@example.com LIL-2026-00001" in out.getvalue()
        assert fresh(pass_obj).status == PassStatus.ACTIVE
        out = StringIO()
        call_command("run_dunning", stdout=out)
        assert "made 1 pass(es) past due" in out.getvalue()
        assert fresh(pass_obj).status == PassStatus.PAST_DUE
        assert Notice.objects.count() == 1


def test_the_celery_tasks_run_the_job_and_the_sweep_and_are_scheduled(camille, monthly, mailoutbox):
    from celery.schedules import crontab

    from billing.tasks import run_dunning, send_notices
    from coworking.celery import app

    buy(camille, monthly)
    with time_machine.travel(at(day(1)), tick=False):
        result = run_dunning.delay().get()
    assert (result["past_due"], result["reminders"]) == (1, 1)
    # Outside a real commit the job's fast path does not run here: the sweep sends the reminder.
    assert send_notices.delay().get() == 1
    assert len(mailoutbox) == 1
    schedule = app.conf.beat_schedule
    assert schedule["billing-dunning"]["task"] == "billing.dunning"
    assert schedule["billing-dunning"]["schedule"] == crontab(minute=17)
    assert schedule["billing-send-notices"]["task"] == "billing.send_notices"
    assert schedule["billing-send-notices"]["schedule"] == 600.0
    assert run_dunning.acks_late
    assert run_dunning.ignore_result
    assert send_notices.acks_late


# --- concurrency (PostgreSQL) ----------------------------------------------------------------------------


@pytest.fixture
def many_passes(transactional_db):
    space = SpaceFactory(invoice_prefix="DUN", email="dun@example.com")
    plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("200"))
    members = [UserFactory(email=f"m{n}@example.com", member__display_name=f"Membre {n}") for n in range(15)]
    return [buy(member, plan) for member in members]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_notice_once(many_passes, mailoutbox):
    assert run_concurrently(lambda _i: dunning.run(at(day(3)), chunk_size=4), 4) == []
    for _ in range(2):
        dunning.run(at(day(3), 12), chunk_size=4)
    assert Counter(m.to[0] for m in mail.outbox) == {p.member.email: 1 for p in many_passes}
    assert Notice.objects.count() == len(many_passes)
    assert not Notice.objects.filter(sent_at__isnull=True).exists()
    assert set(Pass.objects.values_list("status", "reminders_sent")) == {(PassStatus.PAST_DUE, 2)}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_each_pending_notice_once(many_passes, mailoutbox, monkeypatch):
    monkeypatch.setattr(dunning, "_send_after_commit", lambda ids, report: None)  # the broker is down
    dunning.run(at(day(1)))
    assert Notice.objects.filter(sent_at__isnull=True).count() == len(many_passes)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert run_concurrently(lambda _i: notifications.sweep(now=later), 4) == []
    assert Counter(m.to[0] for m in mail.outbox) == {p.member.email: 1 for p in many_passes}
    assert not Notice.objects.filter(sent_at__isnull=True).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_control_without_the_conditional_claim_concurrent_sweeps_send_twice(
    many_passes, mailoutbox, monkeypatch
):
    """Replaces the claim (one conditional UPDATE) by a read then a write, with the sweeps held between
    the two: the duplicates appear, so the test above can fail."""
    import time

    monkeypatch.setattr(dunning, "_send_after_commit", lambda ids, report: None)
    dunning.run(at(day(1)))

    def check_then_set(notice_id, now):
        unsent = Notice.objects.filter(pk=notice_id, sent_at__isnull=True).exists()
        time.sleep(0.05)
        Notice.objects.filter(pk=notice_id).update(sent_at=now)
        return unsent

    monkeypatch.setattr(notifications, "_claim", check_then_set)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert run_concurrently(lambda _i: notifications.sweep(now=later), 4) == []
    assert len(mail.outbox) > len(many_passes)
