"""Dunning and renewal notices: one idempotent, catch-up job, `run(now)`, that beat starts every hour.

It does "everything due up to now that is not done yet": a missed, doubled, concurrent or crashed run is
harmless. Every date below is a LOCAL date at the pass's space, `today = localtime.local_date(now, tz)`.

Dunning (passes ACTIVE, PAST_DUE or SUSPENDED)
    * An invoice is *overdue* on `today` when it is an invoice (not a credit note), still ISSUED (unpaid),
      linked to one of the pass's periods (PassPeriod.invoice: the purchase or a renewal) and
      `due_date < today`. Its due date is day 0; day k is `due_date + k`.
    * Past due: an ACTIVE pass with an overdue invoice becomes PAST_DUE, with `past_due_since` = the
      day after the due date of its oldest overdue invoice (day 1, even when the job runs later).
    * Days past due on `today`: `d = (today - past_due_since).days + 1` (d = 1 on past_due_since).
    * Reminders: step n of REMINDER_DAYS = (1, 3, 7) is due once `d >= n`, i.e. once
      `today >= past_due_since + (n - 1) days`: on days 1, 3 and 7 after the due date. Each step is sent
      at most once (Notice key `reminder:{invoice id}:{n}`); a late run sends only the latest step due,
      never several at once; `Pass.reminders_sent` is the number of steps reached (1, 2 or 3).
    * Suspension: once `d > BILLING_GRACE_DAYS`, i.e. `today >= past_due_since + BILLING_GRACE_DAYS
      days` (the grace period is days 1 to GRACE; with 10, the pass is suspended on day 11 after the due
      date), PAST_DUE -> SUSPENDED with one e-mail (key `suspension:{invoice id}`). A run that reaches
      suspension sends that e-mail only, not a reminder as well. A suspended pass allows no new booking
      (billing.models.USABLE_STATUSES); the bookings already made are kept.
    * Restoration: paying restores the pass at once (billing.services._mark_paid). The job never marks
      a pass whose overdue invoices are paid, and restores (to ACTIVE, with past_due_since and
      reminders_sent cleared) a PAST_DUE or SUSPENDED pass that has no overdue invoice left, which
      _mark_paid leaves past due when another invoice, not yet due, is unpaid. When the invoice the
      ladder followed is paid but a younger one is overdue, the ladder starts again from the younger
      one's due date. Keys carry the invoice id, so a new unpaid invoice starts a new ladder.

Renewal notices (auto-renewing MONTHLY and ANNUAL passes, ACTIVE or PAST_DUE: those the renewal job
renews; never when auto_renew is off, never for rolling day passes)
    * The next period starts on `next_start = current period end + 1` (services.next_period). The
      renewal job issues its invoice from the *renewal day* `R = current end - BILLING_RENEWAL_LEAD_DAYS`
      (periods.renewal_due), so the last day to switch automatic renewal off is `deadline = R - 1`.
    * MONTHLY: the notice is due from `next_start - 3 days` (= current end - 2), or from the deadline if
      that is earlier.
    * ANNUAL: due from `deadline - 42 days` (six weeks): C. conso L215-1 asks for the notice 3 to 1
      months before the deadline for refusing the renewal; six weeks is always within that window, with
      two weeks to spare for a job that did not run (with the default settings: next_start - 45 days).
    * Sent once per period (key `renewal:{pass id}:{next_start}`, and Pass.renewal_notice_for =
      next_start), while `today < next_start` and the next period does not exist yet. It gives the next
      period's dates and price at the tier of its period number, VAT included, and the deadline.

Writes: candidates are found with one coarse query in UTC (every zone's today is within a day of UTC's);
each chunk is then locked (overdue invoices first, then passes, by primary key: the order in which a
payment locks them, so the two cannot deadlock), re-read and re-checked in its space's zone, and its
status changes, pass fields and Notice rows are written in one transaction. The Notice rows are the
outbox: their e-mails are sent after commit, and by the sweep if that fails (billing.notifications).
The unique Notice.key is the backstop that makes a second attempt at the same notice a no-op.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import formats
from django.utils.translation import gettext as _

from billing import notifications, periods, pricing, services
from billing.models import (
    USABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Notice,
    NoticeKind,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    PlanKind,
    PriceTier,
)
from spaces import localtime

logger = logging.getLogger(__name__)

REMINDER_DAYS = (1, 3, 7)
NOTICE_KINDS = (PlanKind.MONTHLY, PlanKind.ANNUAL)
MONTHLY_NOTICE_DAYS = 3  # before the next period starts
ANNUAL_NOTICE_DAYS = 42  # before the last day to switch automatic renewal off (L215-1: 1 to 3 months)
DUNNED_STATUSES = (PassStatus.ACTIVE, PassStatus.PAST_DUE, PassStatus.SUSPENDED)
_DAY = timedelta(days=1)


# --- the day rules (pure) ------------------------------------------------------------------------------


def past_due_since(due_date: date) -> date:
    return due_date + _DAY


def days_past_due(since: date, today: date) -> int:
    return (today - since).days + 1


def reminder_step(since: date, today: date) -> int:
    """How many reminder steps are due on `today` (0 to len(REMINDER_DAYS))."""
    days = days_past_due(since, today)
    return sum(1 for step_day in REMINDER_DAYS if days >= step_day)


def suspension_day(since: date) -> date:
    return since + timedelta(days=settings.BILLING_GRACE_DAYS)


def renewal_day(current_end: date) -> date:
    """The first day the renewal job issues the next period's invoice."""
    return current_end - timedelta(days=settings.BILLING_RENEWAL_LEAD_DAYS)


def switch_off_deadline(current_end: date) -> date:
    """The last day on which switching automatic renewal off stops the next renewal."""
    return renewal_day(current_end) - _DAY


def renewal_notice_from(kind: str, current_end: date) -> date:
    """The first day the notice of the renewal after the period ending on `current_end` is due."""
    deadline = switch_off_deadline(current_end)
    if kind == PlanKind.ANNUAL:
        return deadline - timedelta(days=ANNUAL_NOTICE_DAYS)
    return min(current_end + _DAY - timedelta(days=MONTHLY_NOTICE_DAYS), deadline)


# --- the report ----------------------------------------------------------------------------------------


@dataclass
class DunningReport:
    examined: int = 0
    past_due: int = 0
    reminders: int = 0
    suspended: int = 0
    restored: int = 0
    renewal_notices: int = 0
    sent: int = 0  # e-mails sent after commit during the run (the sweep sends any that failed)
    lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "examined": self.examined,
            "past_due": self.past_due,
            "reminders": self.reminders,
            "suspended": self.suspended,
            "restored": self.restored,
            "renewal_notices": self.renewal_notices,
            "sent": self.sent,
        }


# --- the job -------------------------------------------------------------------------------------------


def run(now: datetime, *, chunk_size: int = 500, dry_run: bool = False) -> DunningReport:
    """Everything due up to `now` that is not done yet: past due, reminders, suspensions, restorations
    and renewal notices. With dry_run, every chunk is rolled back and no e-mail is sent."""
    report = DunningReport()
    for ids in _chunks(_dunning_candidates(now), chunk_size):
        _dunning_chunk(ids, now=now, dry_run=dry_run, report=report)
    for ids in _chunks(_notice_candidates(now), chunk_size):
        _notice_chunk(ids, now=now, dry_run=dry_run, report=report)
    if report.past_due or report.reminders or report.suspended or report.restored or report.renewal_notices:
        logger.info("dunning run", extra=report.as_dict())
    return report


def _chunks(queryset, size: int):
    after = 0
    while True:
        ids = list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        after = ids[-1]
        yield ids


def _utc_today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _unpaid_invoices():
    return Invoice.objects.filter(kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED)


def _dunning_candidates(now: datetime):
    utc_today = _utc_today(now)
    unpaid = _unpaid_invoices().filter(pass_periods__pass_obj=OuterRef("pk"))
    return Pass.objects.alias(
        has_unpaid=Exists(unpaid.filter(due_date__lt=utc_today + _DAY)),
        certainly_overdue=Exists(unpaid.filter(due_date__lt=utc_today - _DAY)),
    ).filter(
        Q(status=PassStatus.PAST_DUE)
        # perhaps overdue in its zone (due before the latest today of any zone)
        | Q(status=PassStatus.ACTIVE, has_unpaid=True)
        # perhaps nothing overdue any more (nothing due before the earliest today of any zone)
        | Q(status=PassStatus.SUSPENDED, certainly_overdue=False)
    )


def _send_after_commit(notice_ids: list[int], report: DunningReport) -> None:
    if not notice_ids:
        return

    def send() -> None:
        report.sent += notifications.send_many(notice_ids)

    transaction.on_commit(send)


def _record(notices: list[Notice], report: DunningReport) -> list[Notice]:
    """Inserts the notices not recorded yet (the unique key ignores a second attempt) and schedules
    their e-mails after commit; returns the ones this call recorded."""
    if not notices:
        return []
    keys = [notice.key for notice in notices]
    existing = set(Notice.objects.filter(key__in=keys).values_list("key", flat=True))
    fresh = [notice for notice in notices if notice.key not in existing]
    Notice.objects.bulk_create(fresh, ignore_conflicts=True)
    ids = list(
        Notice.objects.filter(key__in=[n.key for n in fresh], sent_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _send_after_commit(ids, report)
    return fresh


def _line(report: DunningReport, label: str, pass_obj: Pass, detail: str = "") -> None:
    report.lines.append(f"{label} pass {pass_obj.pk} {pass_obj.member.email} {detail}".rstrip())


# --- dunning -------------------------------------------------------------------------------------------


@dataclass
class _Overdue:
    invoice: Invoice
    due: Decimal  # what is still to pay on it


def _dunning_chunk(ids: list[int], *, now: datetime, dry_run: bool, report: DunningReport) -> None:
    horizon = _utc_today(now) + _DAY
    with transaction.atomic():
        # Invoices first, then passes, each by primary key: the order in which payment_record and a
        # gateway's confirmation lock them. An invoice paid meanwhile is no longer ISSUED once its lock
        # is granted, so it is not in this list.
        invoices = list(
            _unpaid_invoices()
            .select_for_update(of=("self",))
            .filter(pass_periods__pass_obj_id__in=ids, due_date__lt=horizon)
            .annotate(for_pass=F("pass_periods__pass_obj_id"))
            .order_by("pk")
        )
        passes = list(
            Pass.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, status__in=DUNNED_STATUSES)
            .select_related("plan", "space", "member__member")
            .order_by("pk")
        )
        paid = dict(
            Payment.objects.filter(invoice__in=invoices, status=PaymentStatus.SUCCEEDED)
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        )
        # Partial credit notes lower what is still to pay (their amounts are negative).
        credited = dict(
            Invoice.objects.filter(corrects__in=invoices, kind=DocumentKind.CREDIT_NOTE)
            .values("corrects_id")
            .annotate(total=Sum("gross"))
            .values_list("corrects_id", "total")
        )
        by_pass: dict[int, dict[int, Invoice]] = defaultdict(dict)
        for invoice in invoices:
            by_pass[invoice.for_pass][invoice.pk] = invoice
        notices: list[Notice] = []
        for pass_obj in passes:
            report.examined += 1
            today = localtime.local_date(now, pass_obj.space.tz)
            overdue = [
                _Overdue(
                    invoice,
                    invoice.gross - paid.get(invoice.pk, Decimal(0)) + credited.get(invoice.pk, Decimal(0)),
                )
                for invoice in sorted(by_pass[pass_obj.pk].values(), key=lambda i: (i.due_date, i.pk))
                if invoice.due_date < today
            ]
            notice = _dun(pass_obj, overdue, today, report)
            if notice is not None:
                notices.append(notice)
        for notice in _record(notices, report):
            if notice.kind == NoticeKind.PAYMENT_REMINDER:
                report.reminders += 1
        if dry_run:
            transaction.set_rollback(True)


def _dun(pass_obj: Pass, overdue: list[_Overdue], today: date, report: DunningReport) -> Notice | None:
    """Moves one locked pass along the ladder; returns the notice it owes, if any."""
    if not overdue:
        if pass_obj.status in (PassStatus.PAST_DUE, PassStatus.SUSPENDED):
            services.pass_transition(pass_obj, PassStatus.ACTIVE)
            Pass.objects.filter(pk=pass_obj.pk).update(past_due_since=None, reminders_sent=0)
            report.restored += 1
            _line(report, "restored", pass_obj)
        return None
    if pass_obj.status == PassStatus.SUSPENDED:
        return None  # still unpaid: nothing more to say until it is paid
    oldest = overdue[0].invoice
    since = past_due_since(oldest.due_date)
    if pass_obj.past_due_since and pass_obj.past_due_since > since:
        since = pass_obj.past_due_since  # restored by a manager despite the debt: a new grace period
    recorded = (pass_obj.past_due_since, pass_obj.reminders_sent)
    if pass_obj.status == PassStatus.ACTIVE:
        services.pass_transition(pass_obj, PassStatus.PAST_DUE)
        pass_obj.past_due_since, pass_obj.reminders_sent = since, 0
        report.past_due += 1
        _line(report, "past due", pass_obj, f"{oldest.number} since {since.isoformat()}")
    elif pass_obj.past_due_since != since:
        # The invoice the ladder followed is paid but a younger one is overdue: follow that one.
        pass_obj.past_due_since, pass_obj.reminders_sent = since, 0
    notice = None
    if today >= suspension_day(since):
        services.pass_transition(pass_obj, PassStatus.SUSPENDED)
        report.suspended += 1
        _line(report, "suspended", pass_obj, oldest.number)
        notice = _suspension_notice(pass_obj, overdue, since)
    else:
        step = reminder_step(since, today)
        if step > pass_obj.reminders_sent:
            pass_obj.reminders_sent = step
            _line(report, f"reminder day {REMINDER_DAYS[step - 1]}", pass_obj, oldest.number)
            notice = _reminder_notice(pass_obj, overdue, since, step)
    if (pass_obj.past_due_since, pass_obj.reminders_sent) != recorded:
        Pass.objects.filter(pk=pass_obj.pk).update(
            past_due_since=pass_obj.past_due_since, reminders_sent=pass_obj.reminders_sent
        )
    return notice


def _payment_context(pass_obj: Pass, overdue: list[_Overdue]) -> dict:
    space = pass_obj.space
    return {
        "overdue": overdue,
        "total_due": sum((item.due for item in overdue), Decimal(0)),
        "currency": overdue[0].invoice.currency,
        "iban": space.bank_iban,
        "bic": space.bank_bic,
        "grace_days": settings.BILLING_GRACE_DAYS,
    }


def _long_date(day: date) -> str:
    return formats.date_format(day, "j F Y")


def _reminder_notice(pass_obj: Pass, overdue: list[_Overdue], since: date, step: int) -> Notice:
    oldest = overdue[0].invoice
    step_day = REMINDER_DAYS[step - 1]
    last = step == len(REMINDER_DAYS)
    suspend_on = suspension_day(since)

    def subject() -> str:
        if step == 1:
            return _("Unpaid invoice %(number)s, %(space)s") % {
                "number": oldest.number,
                "space": pass_obj.space.name,
            }
        if last:
            return _("Last reminder: your pass will be suspended on %(day)s") % {
                "day": _long_date(suspend_on)
            }
        return _("Reminder: invoice %(number)s is still unpaid") % {"number": oldest.number}

    return notifications.build(
        pass_obj=pass_obj,
        kind=NoticeKind.PAYMENT_REMINDER,
        key=f"reminder:{oldest.pk}:{step_day}",
        invoice_id=oldest.pk,
        subject=subject,
        context={
            **_payment_context(pass_obj, overdue),
            "step": step,
            "last": last,
            "days_past_due": step_day,
            "suspend_on": suspend_on,
        },
    )


def _suspension_notice(pass_obj: Pass, overdue: list[_Overdue], since: date) -> Notice:
    oldest = overdue[0].invoice

    def subject() -> str:
        return _("Your pass %(plan)s is suspended, %(space)s") % {
            "plan": pass_obj.plan.name,
            "space": pass_obj.space.name,
        }

    return notifications.build(
        pass_obj=pass_obj,
        kind=NoticeKind.SUSPENSION,
        key=f"suspension:{oldest.pk}",
        invoice_id=oldest.pk,
        subject=subject,
        context={**_payment_context(pass_obj, overdue), "suspended_on": suspension_day(since)},
    )


# --- renewal notices -----------------------------------------------------------------------------------


def _notice_candidates(now: datetime):
    utc_today = _utc_today(now)
    some_day = date(2000, 1, 1)
    window = Q()
    for kind in NOTICE_KINDS:
        lead = (some_day - renewal_notice_from(kind, some_day)).days  # days before the period's end
        # Due from `lead` days before the current end in the latest today of any zone, and until the
        # next period starts (current end >= today) in the earliest.
        window |= Q(kind=kind, current_end__lte=utc_today + _DAY + timedelta(days=lead))
    current_end = (
        PassPeriod.objects.filter(pass_obj=OuterRef("pk")).order_by("-number").values("end_date")[:1]
    )
    return (
        Pass.objects.filter(kind__in=NOTICE_KINDS, auto_renew=True, status__in=USABLE_STATUSES)
        .annotate(current_end=Subquery(current_end))
        .filter(window, current_end__gte=utc_today - _DAY)
        .filter(Q(renewal_notice_for__isnull=True) | Q(renewal_notice_for__lte=F("current_end")))
    )


def _notice_chunk(ids: list[int], *, now: datetime, dry_run: bool, report: DunningReport) -> None:
    with transaction.atomic():
        passes = list(
            Pass.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, kind__in=NOTICE_KINDS, auto_renew=True, status__in=USABLE_STATUSES)
            .select_related("plan", "space", "member__member")
            .order_by("pk")
        )
        last_number = (
            PassPeriod.objects.filter(pass_obj=OuterRef("pass_obj")).order_by("-number").values("number")[:1]
        )
        currents = {
            period.pass_obj_id: period
            for period in PassPeriod.objects.filter(pass_obj_id__in=ids, number=Subquery(last_number))
        }
        tiers: dict[int, list[PriceTier]] = defaultdict(list)
        for tier in PriceTier.objects.filter(plan_id__in={p.plan_id for p in passes}).order_by(
            "first_period"
        ):
            tiers[tier.plan_id].append(tier)
        notices = []
        for pass_obj in passes:
            report.examined += 1
            current = currents.get(pass_obj.pk)
            if current is None:
                continue
            today = localtime.local_date(now, pass_obj.space.tz)
            upcoming = services.next_period(pass_obj, current)
            if upcoming is None or pass_obj.renewal_notice_for == upcoming.start:
                continue
            if not renewal_notice_from(pass_obj.kind, current.end_date) <= today < upcoming.start:
                continue
            notice, gross = _renewal_notice(pass_obj, current, upcoming, tiers[pass_obj.plan_id], today)
            notices.append(notice)
            _line(
                report,
                "renewal notice",
                pass_obj,
                f"{upcoming.start.isoformat()} {gross} {pass_obj.space.currency}",
            )
            Pass.objects.filter(pk=pass_obj.pk).update(renewal_notice_for=upcoming.start)
        report.renewal_notices += len(_record(notices, report))
        if dry_run:
            transaction.set_rollback(True)


def _renewal_notice(
    pass_obj: Pass, current: PassPeriod, upcoming, tiers, today: date
) -> tuple[Notice, Decimal]:
    plan, space = pass_obj.plan, pass_obj.space
    line = services._period_line(plan, plan.terms(tiers), current.number + 1, upcoming, space)
    current_line = pricing.make_line(
        "", Decimal(1), current.unit_price, current.vat_rate / Decimal(100), space.currency
    )
    deadline = switch_off_deadline(current.end_date)
    if pass_obj.kind == PlanKind.ANNUAL and today > periods.add_months_anchored(deadline, -1):
        logger.warning(
            "renewal notice sent less than a month before the deadline (L215-1)",
            extra={"pass_id": pass_obj.pk, "period_start": upcoming.start.isoformat()},
        )

    def subject() -> str:
        return _("Your pass %(plan)s renews on %(day)s, %(space)s") % {
            "plan": plan.name,
            "day": _long_date(upcoming.start),
            "space": space.name,
        }

    notice = notifications.build(
        pass_obj=pass_obj,
        kind=NoticeKind.RENEWAL_NOTICE,
        key=f"renewal:{pass_obj.pk}:{upcoming.start.isoformat()}",
        subject=subject,
        context={
            "period_start": upcoming.start,
            "period_end": upcoming.end,
            "period_number": current.number + 1,
            "line": line,
            "currency": space.currency,
            "vat_rate": space.vat_rate,
            "current_gross": current_line.gross,
            "price_changes": current_line.gross != line.gross,
            "renewal_day": renewal_day(current.end_date),
            "deadline": deadline,
            "deadline_passed": today > deadline,
            "french_consumer_law": space.country == "FR",
        },
    )
    return notice, line.gross
