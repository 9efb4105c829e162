"""Writes on billing: buying a pass, issuing invoices with gap-free numbers, recording payments, and the
renewal job. billing never imports bookings (bookings asks billing, through billing.selectors and the
entitlement services, whether a member may book).

Renewals are set-based: each chunk of due passes is locked, re-checked, and renewed in one transaction
with bulk inserts (periods, invoices, lines, pending payments, credit grants) and one block of invoice
numbers per issuing space and year. The unique key (pass, period start) makes a second attempt a no-op,
so the job can run twice, concurrently, or again after a crash at any point.
"""

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from billing import periods, pricing, selectors
from billing.gateways import ChargeRequest, Gateway, default_gateway
from billing.models import (
    PASS_TRANSITIONS,
    PERIOD_MONTHS,
    RENEWING_KINDS,
    USABLE_STATUSES,
    CreditEntry,
    CreditKind,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
    PriceTier,
)
from billing.money import round_money
from members.models import User
from spaces import localtime
from spaces import selectors as space_selectors
from spaces.models import Space

logger = logging.getLogger(__name__)


class BillingError(Exception):
    """A refused billing action, with a stable code (for the API) and a translated message."""

    MESSAGES = {
        "plan_unavailable": gettext_noop("This plan is not on sale."),
        "start_in_past": gettext_noop("A pass cannot start in the past."),
        "start_too_far": gettext_noop("A pass can start at most 60 days ahead."),
        "profile_incomplete": gettext_noop("Complete your billing details before buying a pass."),
        "invalid_amount": gettext_noop("The amount must be positive and at most what is still due."),
        "not_allowed": gettext_noop("This change is not allowed for this pass."),
        "not_entitled": gettext_noop("You need a pass or a day credit to book this desk."),
        "dedicated_plan_needed": gettext_noop(
            "This desk is reserved for members with a dedicated-desk plan."
        ),
        "suspended": gettext_noop(
            "Your pass is suspended for an unpaid invoice: settle it to book again (existing bookings stay)."
        ),
        "unpaid_invoice": gettext_noop("Settle this pass's open invoice before changing it."),
        "not_an_upgrade": gettext_noop("Choose a longer commitment in the same space to upgrade."),
        "already_credited": gettext_noop("This invoice already has a credit note."),
    }

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)

    @property
    def message(self) -> str:
        return _(self.MESSAGES[self.code])


def vat_fraction(space: Space) -> Decimal:
    """Spaces store their VAT rate in percent (20.00); pricing takes a fraction (0.20)."""
    return space.vat_rate / Decimal(100)


# --- invoices ---------------------------------------------------------------------------------------


def document_number(space: Space, year: int, kind: str, sequence: int) -> str:
    # Credit notes ("avoirs") have a sequence of their own, told apart by AV.
    infix = "-AV" if kind == DocumentKind.CREDIT_NOTE else ""
    return f"{space.invoice_prefix}{infix}-{year}-{sequence:05d}"


def seller_snapshot(space: Space) -> dict:
    return {
        "legal_name": space.legal_name,
        "legal_form": space.legal_form,
        "share_capital": space.share_capital,
        "registration_number": space.registration_number,
        "registry": space.registry,
        "vat_number": space.vat_number,
        "vat_on_debits": space.vat_on_debits,
        "address": f"{space.street_address}\n{space.postal_code} {space.city}",
        "country": space.country,
        "name": space.name,
        "email": space.email,
        "iban": space.bank_iban,
        "bic": space.bank_bic,
    }


def buyer_snapshot(user: User) -> dict:
    member = user.member
    return {
        "name": member.billing_name or member.display_name or user.email,
        "company": member.company,
        "address": member.billing_address,
        "country": member.billing_country,
        "vat_number": member.vat_number,
        "registration": member.company_registration,
        "email": user.email,
    }


def vat_note(space: Space) -> str:
    # A French micro-entrepreneur space without a VAT number invoices under the franchise (CGI 293 B).
    if not space.vat_number and space.country == "FR" and space.vat_rate == 0:
        return "TVA non applicable, art. 293 B du CGI"
    return ""


def _reserve_numbers(space: Space, year: int, kind: str, count: int) -> int:
    """Takes `count` consecutive numbers for (space, year, kind); returns the first. The UPDATE holds the
    sequence row's lock until the caller's transaction ends, so concurrent issuers queue there and the
    numbers they get are consecutive, without collisions and, since a rollback returns the block,
    without gaps."""
    sequence, _created = InvoiceSequence.objects.get_or_create(space=space, year=year, kind=kind)
    InvoiceSequence.objects.filter(pk=sequence.pk).update(last_number=F("last_number") + count)
    last = InvoiceSequence.objects.values_list("last_number", flat=True).get(pk=sequence.pk)
    return last - count + 1


def _content_hash(invoice: Invoice, lines: list[InvoiceLine]) -> str:
    content = {
        "number": invoice.number,
        "kind": invoice.kind,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "service": [str(invoice.service_start), str(invoice.service_end)],
        "seller": invoice.seller,
        "buyer": invoice.buyer,
        "currency": invoice.currency,
        "totals": [str(invoice.net), str(invoice.vat), str(invoice.gross)],
        "lines": [
            [line.description, str(line.quantity), str(line.unit_price), str(line.vat_rate), str(line.gross)]
            for line in lines
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Draft:
    """An invoice to issue, before it has a number."""

    space: Space
    member: User
    lines: list[pricing.Line]
    issue_date: date
    due_date: date
    service_start: date | None = None
    service_end: date | None = None
    kind: str = DocumentKind.INVOICE
    corrects: Invoice | None = None
    idempotency_key: str | None = None
    buyer: dict = field(default_factory=dict)
    language: str = "fr"


def _issue_all(drafts: list[_Draft]) -> list[Invoice]:
    """Numbers and stores drafts (inside the caller's transaction): one block of numbers per space,
    year and kind, handed out in the drafts' order."""
    first_numbers: dict[tuple[int, int, str], int] = {}
    counts: dict[tuple[int, int, str], int] = defaultdict(int)
    spaces: dict[int, Space] = {}
    for draft in drafts:
        key = (draft.space.pk, draft.issue_date.year, draft.kind)
        counts[key] += 1
        spaces[draft.space.pk] = draft.space
    for key in sorted(counts):  # always the same order: two jobs can never wait on each other's blocks
        space_id, year, kind = key
        first_numbers[key] = _reserve_numbers(spaces[space_id], year, kind, counts[key])
    invoices, all_lines = [], []
    for draft in drafts:
        key = (draft.space.pk, draft.issue_date.year, draft.kind)
        sequence = first_numbers[key]
        first_numbers[key] += 1
        totals = pricing.totals(draft.lines, draft.space.currency)
        invoice = Invoice(
            kind=draft.kind,
            space=draft.space,
            member=draft.member,
            number=document_number(draft.space, key[1], draft.kind, sequence),
            year=key[1],
            sequence=sequence,
            corrects=draft.corrects,
            issue_date=draft.issue_date,
            due_date=draft.due_date,
            service_start=draft.service_start,
            service_end=draft.service_end,
            currency=draft.space.currency,
            net=totals.net,
            vat=totals.vat,
            gross=totals.gross,
            language=draft.language,
            seller=seller_snapshot(draft.space),
            buyer=draft.buyer or buyer_snapshot(draft.member),
            vat_note=vat_note(draft.space),
            idempotency_key=draft.idempotency_key,
            status=InvoiceStatus.PAID if totals.gross == 0 else InvoiceStatus.ISSUED,
        )
        lines = [
            InvoiceLine(
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate * 100,
                net=line.net,
                vat=line.vat,
                gross=line.gross,
            )
            for position, line in enumerate(draft.lines, start=1)
        ]
        invoice.content_hash = _content_hash(invoice, lines)
        invoices.append(invoice)
        all_lines.append(lines)
    Invoice.objects.bulk_create(invoices)
    for invoice, lines in zip(invoices, all_lines, strict=True):
        for line in lines:
            line.invoice = invoice
    InvoiceLine.objects.bulk_create([line for lines in all_lines for line in lines])
    return invoices


def invoice_issue(
    *,
    space: Space,
    member: User,
    lines: list[pricing.Line],
    issue_date: date,
    due_date: date | None = None,
    service_start: date | None = None,
    service_end: date | None = None,
    kind: str = DocumentKind.INVOICE,
    corrects: Invoice | None = None,
    idempotency_key: str | None = None,
) -> Invoice:
    """Issues one invoice or credit note; with an idempotency key, a second call returns the first."""
    with transaction.atomic():
        if idempotency_key:
            existing = Invoice.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        (invoice,) = _issue_all(
            [
                _Draft(
                    space=space,
                    member=member,
                    lines=lines,
                    issue_date=issue_date,
                    due_date=due_date or issue_date,
                    service_start=service_start,
                    service_end=service_end,
                    kind=kind,
                    corrects=corrects,
                    idempotency_key=idempotency_key,
                    language=member.member.preferred_language or "fr",
                )
            ]
        )
    return invoice


def amount_paid(invoice: Invoice) -> Decimal:
    total = invoice.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0")


def payment_record(
    *, invoice: Invoice, amount: Decimal, method: str, received_on: date, reference: str = "", by: User | None
) -> Payment:
    """A manager records money received (transfer, cash, cheque...); partial payments add up, and the
    invoice is paid, and its pass restored at once, when they cover it."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        due = invoice.gross - amount_paid(invoice)
        if amount <= 0 or amount > due:
            raise BillingError("invalid_amount")
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            method=method,
            status=PaymentStatus.SUCCEEDED,
            received_on=received_on,
            reference=reference[:120],
            gateway="offline",
            recorded_by=by,
        )
        # The pending attempt the offline gateway left is settled by this payment.
        invoice.payments.filter(status=PaymentStatus.PENDING, gateway="offline").delete()
        if amount == due:
            _mark_paid([invoice.pk])
    return payment


def _mark_paid(invoice_ids: Iterable[int]) -> None:
    ids = list(invoice_ids)
    Invoice.objects.filter(pk__in=ids).update(status=InvoiceStatus.PAID)
    # A pass whose overdue invoices are now all paid is usable again at once (an invoice not yet due
    # does not keep it past due: the same definition as billing.dunning).
    now = timezone.now()
    for pass_obj in (
        Pass.objects.filter(
            periods__invoice_id__in=ids, status__in=(PassStatus.PAST_DUE, PassStatus.SUSPENDED)
        )
        .select_related("space")
        .distinct()
    ):
        if not Invoice.objects.filter(
            pass_periods__pass_obj=pass_obj,
            status=InvoiceStatus.ISSUED,
            kind=DocumentKind.INVOICE,
            due_date__lt=localtime.local_date(now, pass_obj.space.tz),
        ).exists():
            pass_transition(pass_obj, PassStatus.ACTIVE)
            Pass.objects.filter(pk=pass_obj.pk).update(past_due_since=None, reminders_sent=0)


# --- passes -----------------------------------------------------------------------------------------


def pass_transition(pass_obj: Pass, status: str) -> None:
    """Moves a pass to another status if PASS_TRANSITIONS allows it (raises BillingError if not)."""
    if status == pass_obj.status:
        return
    if status not in PASS_TRANSITIONS[pass_obj.status]:
        raise BillingError("not_allowed")
    Pass.objects.filter(pk=pass_obj.pk, status=pass_obj.status).update(status=status)
    pass_obj.status = status


def first_period(plan: Plan, start: date) -> periods.Period:
    if plan.kind in PERIOD_MONTHS:
        return periods.anchored_period(start, PERIOD_MONTHS[plan.kind], 0)
    if plan.kind == PlanKind.PACK_10:
        return periods.pack_validity(start, plan.validity_months)
    return periods.Period(0, start, start)  # a day pass, or a rolling day pass's first day


def next_period(pass_obj: Pass, last: PassPeriod) -> periods.Period | None:
    """The period after `last` (None when a rolling pass finds no open day within a year)."""
    if pass_obj.kind in PERIOD_MONTHS:
        return periods.anchored_period(pass_obj.anchor_date, PERIOD_MONTHS[pass_obj.kind], last.number)
    space = pass_obj.space
    day = periods.next_open_day(
        last.end_date, lambda d: space_selectors.day_schedule(space=space, day=d).is_open
    )
    return periods.Period(last.number, day, day) if day else None


def _period_line(
    plan: Plan, terms: pricing.PlanTerms, number: int, period: periods.Period, space
) -> pricing.Line:
    price = pricing.unit_price_for(terms, number)
    label = plan.name
    if plan.kind in RENEWING_KINDS or plan.kind == PlanKind.DAY_PASS:
        label = f"{plan.name} · {period.start:%d/%m/%Y} - {period.end:%d/%m/%Y}"
    return pricing.make_line(label, Decimal(1), price, vat_fraction(space), space.currency)


def _grants_for(pass_obj: Pass, plan: Plan, period: periods.Period) -> list[CreditEntry]:
    grants = []
    if plan.kind == PlanKind.PACK_10 and plan.desk_days:
        grants.append(
            CreditEntry(
                member_id=pass_obj.member_id,
                kind=CreditKind.DESK_DAY,
                amount=plan.desk_days,
                expires_on=period.end,
                source_pass=pass_obj,
                reference=f"pass:{pass_obj.pk}:{period.start.isoformat()}",
            )
        )
    if plan.room_hours:
        grants.append(
            CreditEntry(
                member_id=pass_obj.member_id,
                kind=CreditKind.ROOM_MINUTES,
                amount=plan.room_hours * 60,
                expires_on=period.end,
                source_pass=pass_obj,
                reference=f"pass:{pass_obj.pk}:{period.start.isoformat()}",
            )
        )
    return grants


def _due_date(issue_date: date, period: periods.Period) -> date:
    return max(issue_date, period.start) + timedelta(days=settings.BILLING_PAYMENT_TERMS_DAYS)


def pass_purchase(
    *,
    member: User,
    plan: Plan,
    start: date,
    now: datetime,
    gateway: Gateway | None = None,
    credit: Decimal = Decimal(0),
    credit_description: str = "",
) -> Pass:
    """Buys a pass: the pass, its first period with the price snapshot, its invoice, the payment attempt
    and its credits, in one transaction. With the offline gateway the pass is usable at once; an unpaid
    invoice makes it past due after its due date (billing.dunning.run)."""
    space = plan.space
    today = localtime.local_date(now, space.tz)
    if not plan.is_active or not space.is_active:
        raise BillingError("plan_unavailable")
    if start < today:
        raise BillingError("start_in_past")
    if start > today + timedelta(days=60):
        raise BillingError("start_too_far")
    member_profile = member.member
    if not (member_profile.billing_name or member_profile.display_name):
        raise BillingError("profile_incomplete")
    terms = plan.terms()
    period = first_period(plan, start)
    with transaction.atomic():
        pass_obj = Pass.objects.create(
            member=member,
            plan=plan,
            space=space,
            kind=plan.kind,
            anchor_date=start,
            auto_renew=plan.renews,
        )
        with override(member_profile.preferred_language or "fr"):
            line = _period_line(plan, terms, 1, period, space)
            lines = [line]
            if credit:
                quote = pricing.quote(
                    terms,
                    vat_rate=vat_fraction(space),
                    description=line.description,
                    credit=credit,
                    credit_description=credit_description,
                )
                lines = list(quote.lines)
        (invoice,) = _issue_all(
            [
                _Draft(
                    space=space,
                    member=member,
                    lines=lines,
                    issue_date=today,
                    due_date=_due_date(today, period),
                    service_start=period.start,
                    service_end=period.end,
                    idempotency_key=f"purchase:{pass_obj.pk}",
                    language=member_profile.preferred_language or "fr",
                )
            ]
        )
        PassPeriod.objects.create(
            pass_obj=pass_obj,
            number=1,
            start_date=period.start,
            end_date=period.end,
            unit_price=line.unit_price,
            vat_rate=space.vat_rate,
            invoice=invoice,
        )
        CreditEntry.objects.bulk_create(_grants_for(pass_obj, plan, period))
        payments = _payment_attempts([(invoice, f"purchase:{pass_obj.pk}")], gateway or default_gateway())
    _charge_after_commit(payments, gateway or default_gateway())
    return pass_obj


def pass_set_auto_renew(*, pass_obj: Pass, auto_renew: bool) -> None:
    """Switching auto-renew off cancels at the end of the paid period; the member keeps it until then."""
    if pass_obj.kind not in RENEWING_KINDS or pass_obj.status not in USABLE_STATUSES:
        raise BillingError("not_allowed")
    Pass.objects.filter(pk=pass_obj.pk).update(auto_renew=auto_renew)
    pass_obj.auto_renew = auto_renew


# --- payments through the gateway --------------------------------------------------------------------


def _payment_attempts(items: list[tuple[Invoice, str]], gateway: Gateway) -> list[Payment]:
    """One pending payment per invoice that has something to pay, keyed by what it pays for, stored in
    the caller's transaction: the gateway is called only after commit (an outbox), so a crash between
    the invoice and the charge leaves a pending attempt that a rerun finds, never a second charge."""
    payments = [
        Payment(
            invoice=invoice,
            amount=invoice.gross,
            method="offline" if gateway.name == "offline" else "card",
            status=PaymentStatus.PENDING,
            gateway=gateway.name,
            idempotency_key=key,
        )
        for invoice, key in items
        if invoice.gross > 0
    ]
    Payment.objects.bulk_create(payments)
    return payments


def _charge_after_commit(payments: list[Payment], gateway: Gateway) -> None:
    if not payments or gateway.name == "offline":
        return  # nothing to call: the amount is owed until a manager records it

    def charge() -> None:
        requests = [
            ChargeRequest(p.invoice_id, p.amount, p.invoice.currency, p.invoice.member_id, p.idempotency_key)
            for p in payments
        ]
        for payment, result in zip(payments, gateway.charge_many(requests), strict=True):
            if result.status != PaymentStatus.PENDING:
                Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
                    status=result.status, method=result.method, reference=result.reference
                )
                if result.status == PaymentStatus.SUCCEEDED:
                    _mark_paid([payment.invoice_id])

    transaction.on_commit(charge)


# --- renewals ---------------------------------------------------------------------------------------


@dataclass
class RenewalReport:
    examined: int = 0
    renewed: int = 0
    invoices: list[str] = field(default_factory=list)
    expired: int = 0
    skipped: int = 0

    def merge(self, other: "RenewalReport") -> None:
        self.examined += other.examined
        self.renewed += other.renewed
        self.invoices += other.invoices
        self.expired += other.expired
        self.skipped += other.skipped


def _candidates(now: datetime, lead_days: int):
    # Coarse in UTC (every zone's today is within a day of UTC's); the exact test runs per pass in its
    # space's zone once the chunk is locked.
    horizon = now.date() + timedelta(days=lead_days + 1)
    return (
        Pass.objects.filter(status__in=USABLE_STATUSES, kind__in=RENEWING_KINDS)
        .annotate(last_end=Max("periods__end_date"))
        .filter(last_end__lte=horizon)
    )


def renew_due_passes(
    *,
    now: datetime,
    lead_days: int | None = None,
    chunk_size: int = 1000,
    dry_run: bool = False,
    gateway: Gateway | None = None,
) -> RenewalReport:
    """Everything due up to now that is not done yet: renews each auto-renewing pass whose current
    period ends within the lead time and has no next period, and expires the passes whose last period
    ended without renewal. Chunked by primary key; each chunk is one transaction."""
    lead = settings.BILLING_RENEWAL_LEAD_DAYS if lead_days is None else lead_days
    gateway = gateway or default_gateway()
    report = RenewalReport()
    after = 0
    while True:
        ids = list(
            _candidates(now, lead)
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            break
        after = ids[-1]
        report.merge(_renew_chunk(ids, now=now, lead=lead, dry_run=dry_run, gateway=gateway))
    return report


def _renew_chunk(
    ids: list[int], *, now: datetime, lead: int, dry_run: bool, gateway: Gateway
) -> RenewalReport:
    report = RenewalReport()
    with transaction.atomic():
        # Locked, then read again: a concurrent run that renewed them meanwhile is seen here.
        locked = Pass.objects.select_for_update(of=("self",)).filter(pk__in=ids, status__in=USABLE_STATUSES)
        passes = list(locked.select_related("plan", "space", "member__member").order_by("pk"))
        last_number = (
            PassPeriod.objects.filter(pass_obj=OuterRef("pass_obj")).order_by("-number").values("number")[:1]
        )
        lasts = {
            period.pass_obj_id: period
            for period in PassPeriod.objects.filter(pass_obj_id__in=ids, number=Subquery(last_number))
        }
        tiers: dict[int, list] = defaultdict(list)
        for tier in PriceTier.objects.filter(plan_id__in={p.plan_id for p in passes}):
            tiers[tier.plan_id].append(tier)
        drafts, new_periods, expiring = [], [], []
        for pass_obj in passes:
            report.examined += 1
            last = lasts.get(pass_obj.pk)
            today = localtime.local_date(now, pass_obj.space.tz)
            if last is None or not periods.renewal_due(last.end_date, lead, today):
                report.skipped += 1
                continue
            if not pass_obj.auto_renew:
                if last.end_date < today:
                    expiring.append(pass_obj)
                else:
                    report.skipped += 1
                continue
            period = next_period(pass_obj, last)
            if period is None:
                report.skipped += 1
                continue
            plan, space = pass_obj.plan, pass_obj.space
            terms = plan.terms(sorted(tiers[plan.pk], key=lambda t: t.first_period))
            language = pass_obj.member.member.preferred_language or "fr"
            with override(language):
                line = _period_line(plan, terms, last.number + 1, period, space)
            key = f"renewal:{pass_obj.pk}:{period.start.isoformat()}"
            drafts.append(
                _Draft(
                    space=space,
                    member=pass_obj.member,
                    lines=[line],
                    issue_date=today,
                    due_date=_due_date(today, period),
                    service_start=period.start,
                    service_end=period.end,
                    idempotency_key=key,
                    language=language,
                )
            )
            new_periods.append(
                PassPeriod(
                    pass_obj=pass_obj,
                    number=last.number + 1,
                    start_date=period.start,
                    end_date=period.end,
                    unit_price=line.unit_price,
                    vat_rate=space.vat_rate,
                )
            )
        report.renewed = len(drafts)
        report.expired = len(expiring)
        if dry_run:
            report.invoices = [
                f"{d.space.invoice_prefix} {d.member.email} {d.lines[0].gross}" for d in drafts
            ]
            transaction.set_rollback(True)
            return report
        for pass_obj in expiring:
            pass_transition(pass_obj, PassStatus.EXPIRED)
            Pass.objects.filter(pk=pass_obj.pk).update(ended_on=now.date())
        invoices = _issue_all(drafts)
        for period, invoice in zip(new_periods, invoices, strict=True):
            period.invoice = invoice
        PassPeriod.objects.bulk_create(new_periods)
        grants = []
        for period in new_periods:
            if period.pass_obj.plan.room_hours:
                grants += _grants_for(
                    period.pass_obj,
                    period.pass_obj.plan,
                    periods.Period(period.number - 1, period.start_date, period.end_date),
                )
        CreditEntry.objects.bulk_create(grants)
        payments = _payment_attempts(
            [(invoice, draft.idempotency_key) for invoice, draft in zip(invoices, drafts, strict=True)],
            gateway,
        )
        report.invoices = [invoice.number for invoice in invoices]
    _charge_after_commit(payments, gateway)
    if report.renewed:
        logger.info("passes renewed", extra={"renewed": report.renewed, "first_pass": ids[0]})
    return report


# --- entitlements: what a booking draws on ----------------------------------------------------------


@dataclass
class Consumption:
    """What a booking took: the day-credit grant it drew on, included room minutes, the charge invoice."""

    grant_id: int | None = None
    included_minutes: int = 0
    invoice: Invoice | None = None


def _draw(member_id: int, kind: str, grant_id: int, amount: int, reference: str) -> None:
    CreditEntry.objects.create(
        member_id=member_id, kind=kind, amount=-amount, grant_id=grant_id, reference=reference
    )


def entitlement_consume(
    *,
    member: User,
    space: Space,
    day: date,
    resource_kind: str,
    reference: str,
    now: datetime,
    minutes: int = 0,
    hourly_price: Decimal = Decimal(0),
    description: str = "",
    gateway: Gateway | None = None,
    decision: selectors.DeskDecision | None = None,
) -> Consumption:
    """Takes what a booking needs, inside the booking's transaction: a desk needs a covering pass or
    draws one day credit; a meeting room draws included minutes and the rest is invoiced per hour.
    The member's grants are locked first, so two bookings never spend the same credit; raises
    BillingError (not_entitled, dedicated_plan_needed, suspended) and the booking rolls back.
    `decision` is the check made just before (billing.selectors.desk_decision): when a pass covers the
    day there is nothing to draw, and nothing more is read."""
    with transaction.atomic():
        if resource_kind in ("hot_desk", "dedicated_desk"):
            if decision is not None and decision.allowed and decision.grant_id is None:
                return Consumption()  # a pass covers the day (or desks are free): nothing to draw
            return _consume_desk(member, space, day, resource_kind == "dedicated_desk", reference)
        return _consume_room(member, space, day, minutes, hourly_price, description, reference, now, gateway)


def _lock_grants(member_id: int, kind: str) -> None:
    list(
        CreditEntry.objects.select_for_update()
        .filter(member_id=member_id, kind=kind, grant__isnull=True)
        .values_list("pk", flat=True)
    )


def _consume_desk(member: User, space: Space, day: date, dedicated: bool, reference: str) -> Consumption:
    _lock_grants(member.pk, CreditKind.DESK_DAY)
    decision = selectors.desk_decision(member_id=member.pk, space=space, day=day, dedicated=dedicated)
    if not decision.allowed:
        raise BillingError(decision.reason)
    if decision.grant_id:
        _draw(member.pk, CreditKind.DESK_DAY, decision.grant_id, 1, reference)
    return Consumption(grant_id=decision.grant_id)


def _consume_room(
    member: User,
    space: Space,
    day: date,
    minutes: int,
    hourly_price: Decimal,
    description: str,
    reference: str,
    now: datetime,
    gateway: Gateway | None,
) -> Consumption:
    if selectors.is_suspended(member_id=member.pk):
        raise BillingError("suspended")
    _lock_grants(member.pk, CreditKind.ROOM_MINUTES)
    left = minutes
    for grant_id, balance in selectors.credit_grants(
        member_id=member.pk, kind=CreditKind.ROOM_MINUTES, space=space, day=day
    ):
        if not left:
            break
        take = min(balance, left)
        _draw(member.pk, CreditKind.ROOM_MINUTES, grant_id, take, reference)
        left -= take
    consumption = Consumption(included_minutes=minutes - left)
    quote = selectors.room_quote(
        member_id=member.pk,
        space=space,
        day=day,
        minutes=left,
        hourly_price=hourly_price,
        description=description,
    )
    if quote.line is not None:
        today = localtime.local_date(now, space.tz)
        language = member.member.preferred_language or "fr"
        (invoice,) = _issue_all(
            [
                _Draft(
                    space=space,
                    member=member,
                    lines=[quote.line],
                    issue_date=today,
                    due_date=max(today, day) + timedelta(days=settings.BILLING_PAYMENT_TERMS_DAYS),
                    service_start=day,
                    service_end=day,
                    idempotency_key=f"{reference}:charge",
                    language=language,
                )
            ]
        )
        gateway = gateway or default_gateway()
        payments = _payment_attempts([(invoice, f"{reference}:charge")], gateway)
        _charge_after_commit(payments, gateway)
        consumption.invoice = invoice
    return consumption


def entitlement_release(*, reference: str, today: date) -> None:
    """Gives back what a booking took when it is cancelled (before the cut-off, or by a manager): its
    day credit or room minutes return to their grants, and its room charge gets a credit note. Safe to
    call twice: what is already returned is not returned again."""
    with transaction.atomic():
        held = (
            CreditEntry.objects.filter(reference=reference, grant__isnull=False)
            .values("grant_id", "member_id", "kind")
            .annotate(net=Sum("amount"))
        )
        CreditEntry.objects.bulk_create(
            [
                CreditEntry(
                    member_id=row["member_id"],
                    kind=row["kind"],
                    amount=-row["net"],
                    grant_id=row["grant_id"],
                    reference=reference,
                )
                for row in held
                if row["net"] < 0
            ]
        )
        charge = Invoice.objects.filter(idempotency_key=f"{reference}:charge").first()
        if charge is not None and not charge.credit_notes.exists():
            credit_note_issue(invoice=charge, today=today)


# --- credit notes -----------------------------------------------------------------------------------


def credit_note_issue(*, invoice: Invoice, today: date, reason: str = "") -> Invoice:
    """A full credit note ("avoir") for an invoice: the same lines with opposite amounts, citing it. An
    unpaid invoice is then settled (credited); a paid one is owed back to the member, which the
    manager refunds (card refunds come with the card gateway)."""
    if invoice.kind != DocumentKind.INVOICE:
        raise BillingError("not_allowed")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.credit_notes.exists():
            raise BillingError("already_credited")
        currency = invoice.currency
        with override(invoice.language):
            prefix = _("Credit for %(number)s") % {"number": invoice.number}
            if reason:
                prefix = f"{prefix} ({reason})"
            lines = [
                pricing.make_line(
                    f"{prefix}: {line.description}"[:300],
                    line.quantity,
                    -line.unit_price,
                    line.vat_rate / Decimal(100),
                    currency,
                )
                for line in invoice.lines.order_by("position")
            ]
        (note,) = _issue_all(
            [
                _Draft(
                    space=invoice.space,
                    member=invoice.member,
                    lines=lines,
                    issue_date=today,
                    due_date=today,
                    service_start=invoice.service_start,
                    service_end=invoice.service_end,
                    kind=DocumentKind.CREDIT_NOTE,
                    corrects=invoice,
                    idempotency_key=f"credit:{invoice.pk}",
                    buyer=invoice.buyer,
                    language=invoice.language,
                )
            ]
        )
        if invoice.status == InvoiceStatus.ISSUED:
            Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.CREDITED)
            invoice.payments.filter(status=PaymentStatus.PENDING).delete()
    return note


# --- upgrades ---------------------------------------------------------------------------------------


def unused_value(*, pass_obj: Pass, today: date) -> Decimal:
    """What the member paid, excluding VAT, for the part of a pass they have not used yet: a pack's
    day credits left, or the days of its periods from today on, pro rata."""
    value = Decimal(0)
    if pass_obj.kind == PlanKind.PACK_10:
        period = pass_obj.periods.order_by("number").first()
        desk_days = pass_obj.plan.desk_days
        left = sum(
            balance
            for grant_id, balance in selectors.credit_grants(
                member_id=pass_obj.member_id, kind=CreditKind.DESK_DAY, space=pass_obj.space, day=today
            )
            if CreditEntry.objects.filter(pk=grant_id, source_pass=pass_obj).exists()
        )
        if period and desk_days:
            value = period.unit_price * Decimal(left) / Decimal(desk_days)
    else:
        for period in pass_obj.periods.filter(end_date__gte=today):
            total = (period.end_date - period.start_date).days + 1
            unused = (period.end_date - max(period.start_date, today)).days + 1
            value += period.unit_price * Decimal(unused) / Decimal(total)
    return round_money(value, pass_obj.space.currency)


def pass_upgrade(*, pass_obj: Pass, plan: Plan, now: datetime, gateway: Gateway | None = None) -> Pass:
    """Moves a member to a longer commitment in the same space (a pack or a day pass to a monthly pass,
    a monthly to an annual one): the new pass starts today and its first invoice credits what was paid
    for the unused part of the old one, which ends today."""
    space = pass_obj.space
    today = localtime.local_date(now, space.tz)
    if pass_obj.status not in USABLE_STATUSES or plan.space_id != space.pk:
        raise BillingError("not_allowed")
    order = pricing.COMMITMENT_ORDER
    if order.index(pricing.PlanKind(plan.kind)) <= order.index(pricing.PlanKind(pass_obj.kind)):
        raise BillingError("not_an_upgrade")
    if Invoice.objects.filter(
        pass_periods__pass_obj=pass_obj, kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED
    ).exists():
        raise BillingError("unpaid_invoice")
    with transaction.atomic():
        locked = Pass.objects.select_for_update().get(pk=pass_obj.pk)
        if locked.status not in USABLE_STATUSES:
            raise BillingError("not_allowed")
        credit = unused_value(pass_obj=locked, today=today)
        with override(pass_obj.member.member.preferred_language or "fr"):
            label = _("Unused part of %(plan)s") % {"plan": pass_obj.plan.name}
        new_pass = pass_purchase(
            member=pass_obj.member,
            plan=plan,
            start=today,
            now=now,
            gateway=gateway,
            credit=credit,
            credit_description=label,
        )
        reference = f"upgrade:{new_pass.pk}"
        for grant_id, balance in selectors.credit_grants(
            member_id=locked.member_id, kind=CreditKind.DESK_DAY, space=space, day=today
        ):
            if CreditEntry.objects.filter(pk=grant_id, source_pass=locked).exists():
                _draw(locked.member_id, CreditKind.DESK_DAY, grant_id, balance, reference)
        pass_transition(locked, PassStatus.CANCELLED)
        Pass.objects.filter(pk=locked.pk).update(auto_renew=False, ended_on=today)
    logger.info("pass upgraded", extra={"from_pass": pass_obj.pk, "to_pass": new_pass.pk})
    return new_pass
