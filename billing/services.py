"""Writes on billing: buying a pass, issuing invoices with gap-free numbers, recording payments, and the
renewal job. billing never imports bookings (bookings asks billing, through billing.selectors and the
entitlement services, whether a member may book).

Renewals are set-based: each chunk of due passes is locked, re-checked, and renewed in one transaction
with bulk inserts (periods, invoices, lines, pending payments, credit grants) and one block of invoice
numbers per issuing space and year. The unique key (pass, period start) makes a second attempt a no-op,
so the job can run twice, concurrently, or again after a crash at any point.
"""

import calendar
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F, Max, OuterRef, Subquery, Sum
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from billing import bulk, notifications, periods, pricing, selectors
from billing.gateways import Gateway, default_gateway
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
    Notice,
    NoticeKind,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
    PriceTier,
)
from billing.money import currency_exponent, round_money
from members import services as member_services
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
        "reason_required": gettext_noop("Give a reason: it is kept in the audit log."),
        "not_past_due": gettext_noop(
            "Only a pass that is past due (an invoice unpaid after its due date) can be suspended."
        ),
        "nothing_overdue": gettext_noop(
            "No invoice of this pass is overdue: there is nothing to suspend it for."
        ),
        "not_suspended": gettext_noop("This pass is not suspended."),
        "no_period": gettext_noop("This pass has no period to extend."),
        "invalid_days": gettext_noop("A pass is extended by 1 to 90 days."),
        "extension_unaligned": gettext_noop(
            "Extended by %(days)s days, the pass would renew on %(day)s, a day on which its periods cannot "
            "start after a shorter month. Extend it by %(other)s days instead."
        ),
        "several_vat_rates": gettext_noop(
            "This invoice has lines at several VAT rates: a partial credit note is not possible. Issue a "
            "full credit note, then a new invoice if needed."
        ),
        "credit_too_large": gettext_noop(
            "The amount must be positive and at most what is not credited yet on this invoice "
            "(%(left)s %(currency)s)."
        ),
        "credit_inexact": gettext_noop(
            "At %(rate)s%% VAT no amount excluding VAT gives exactly %(amount)s %(currency)s including VAT: "
            "credit %(lower)s or %(higher)s %(currency)s."
        ),
        "fully_credited": gettext_noop("This invoice is already fully credited."),
        "invoice_changed": gettext_noop(
            "This invoice was credited meanwhile (by someone else, or a form sent twice): check it again."
        ),
    }

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)

    @property
    def message(self) -> str:
        return _(self.MESSAGES[self.code])


class BillingRefusal(BillingError):
    """A BillingError whose message takes parameters (amounts, dates)."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.params = params

    @property
    def message(self) -> str:
        params = {
            name: formats.localize(value, use_l10n=True) if isinstance(value, Decimal | date) else value
            for name, value in self.params.items()
        }
        return _(self.MESSAGES[self.code]) % params


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
    sellers: dict[int, dict] = {}  # one snapshot per issuing space, shared by its invoices
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
            seller=sellers.get(draft.space.pk)
            or sellers.setdefault(draft.space.pk, seller_snapshot(draft.space)),
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
    bulk.insert(Invoice, invoices)
    # Numbers are unique: they give back the primary keys the lines, periods and payments point to.
    pks: dict[str, int] = {}
    numbers = [invoice.number for invoice in invoices]
    for start in range(0, len(numbers), 1000):
        pks.update(
            Invoice.objects.filter(number__in=numbers[start : start + 1000]).values_list("number", "pk")
        )
    for invoice, lines in zip(invoices, all_lines, strict=True):
        invoice.pk = pks[invoice.number]
        invoice._state.adding = False
        for line in lines:
            line.invoice = invoice
    bulk.insert(InvoiceLine, [line for lines in all_lines for line in lines])
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


def amount_credited(invoice: Invoice) -> Decimal:
    """What the credit notes issued on an invoice take off it, including VAT (a positive amount)."""
    total = Invoice.objects.filter(corrects=invoice, kind=DocumentKind.CREDIT_NOTE).aggregate(
        total=Sum("gross")
    )["total"]
    return -(total or Decimal("0"))


@dataclass(frozen=True)
class Balance:
    """Where an invoice stands: what it comes to, what was paid and credited, what the member still owes
    (`due`) and what is owed back to them (`to_refund`: credited after it was paid). Refunds are made
    outside the application (a transfer, or the card gateway), so `to_refund` is what the credit notes
    say, not what is left to do."""

    gross: Decimal
    paid: Decimal
    credited: Decimal

    @property
    def due(self) -> Decimal:
        return max(self.gross - self.credited - self.paid, Decimal(0))

    @property
    def to_refund(self) -> Decimal:
        return max(self.paid + self.credited - self.gross, Decimal(0))

    @property
    def creditable(self) -> Decimal:
        return max(self.gross - self.credited, Decimal(0))


def invoice_balance(invoice: Invoice) -> Balance:
    return Balance(gross=invoice.gross, paid=amount_paid(invoice), credited=amount_credited(invoice))


def _audited(amount: Decimal, currency: str) -> str:
    """An amount as the audit log keeps it: rounded to the currency's minor unit ("0.00", not "0")."""
    return str(round_money(amount, currency))


def payment_record(
    *, invoice: Invoice, amount: Decimal, method: str, received_on: date, reference: str = "", by: User | None
) -> Payment:
    """A manager records money received (transfer, cash, cheque...); partial payments add up, and the
    invoice is paid, and its pass restored at once, when they cover it (less what credit notes took off
    it). Recorded in the audit log when `by` (the manager) is given."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        balance = invoice_balance(invoice)
        due = balance.due
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
        if by is not None:
            currency = invoice.currency
            member_services.audit_record(
                actor=by,
                action="payment.record",
                target=invoice,
                space_id=invoice.space_id,
                before={
                    "status": invoice.status,
                    "paid": _audited(balance.paid, currency),
                    "due": _audited(due, currency),
                },
                after={
                    "status": InvoiceStatus.PAID if amount == due else invoice.status,
                    "paid": _audited(balance.paid + amount, currency),
                    "due": _audited(due - amount, currency),
                    "payment": payment.pk,
                    "amount": _audited(amount, currency),
                    "method": method,
                    "received_on": received_on.isoformat(),
                    "reference": payment.reference,
                },
                note=payment.reference,
            )
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
    by_card: bool = False,
) -> Pass:
    """Buys a pass: the pass, its first period with the price snapshot, its invoice, the payment attempt
    and its credits, in one transaction. With the offline gateway the pass is usable at once; an unpaid
    invoice makes it past due after its due date (billing.dunning.run). Bought `by_card`, it waits
    (pending) for the member to pay in Stripe Checkout (billing.cards.checkout_start): it is active
    once Stripe confirms the payment, and nothing is charged off-session."""
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
            status=PassStatus.PENDING if by_card else PassStatus.ACTIVE,
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
        if by_card:
            # The attempt Checkout will pay (billing.cards.checkout_start takes this pending row).
            if invoice.gross > 0:
                Payment.objects.create(
                    invoice=invoice,
                    amount=invoice.gross,
                    method="card",
                    status=PaymentStatus.PENDING,
                    gateway="stripe",
                    idempotency_key=f"purchase:{pass_obj.pk}",
                )
            else:
                pass_transition(pass_obj, PassStatus.ACTIVE)  # nothing to pay: usable at once
            return pass_obj
        payments = _payment_attempts([(invoice, f"purchase:{pass_obj.pk}")], gateway or default_gateway())
    _charge_after_commit(payments, gateway or default_gateway())
    return pass_obj


def pass_set_auto_renew(*, pass_obj: Pass, auto_renew: bool, by: User | None = None) -> None:
    """Switching auto-renew off cancels at the end of the paid period; the member keeps it until then.
    A manager's change (`by`) is recorded in the audit log."""
    if pass_obj.kind not in RENEWING_KINDS or pass_obj.status not in USABLE_STATUSES:
        raise BillingError("not_allowed")
    with transaction.atomic():
        before = Pass.objects.filter(pk=pass_obj.pk).values_list("auto_renew", flat=True).first()
        Pass.objects.filter(pk=pass_obj.pk).update(auto_renew=auto_renew)
        if by is not None and before != auto_renew:
            member_services.audit_record(
                actor=by,
                action="pass.auto_renew",
                target=pass_obj,
                space_id=pass_obj.space_id,
                before={"auto_renew": before},
                after={"auto_renew": auto_renew},
            )
    pass_obj.auto_renew = auto_renew


def pass_overdue_invoices(*, pass_obj: Pass, today: date) -> list[Invoice]:
    """The pass's invoices still unpaid after their due date (billing.dunning's definition)."""
    return list(
        Invoice.objects.filter(
            pass_periods__pass_obj=pass_obj,
            kind=DocumentKind.INVOICE,
            status=InvoiceStatus.ISSUED,
            due_date__lt=today,
        )
        .distinct()
        .order_by("due_date", "pk")
    )


@dataclass(frozen=True)
class _OverdueItem:
    invoice: Invoice
    due: Decimal


def _suspension_notice(pass_obj: Pass, overdue: list[Invoice], today: date) -> Notice:
    """The suspension e-mail (the dunning job's, with the days actually elapsed since the due date)."""
    oldest = overdue[0]
    items = [_OverdueItem(invoice, invoice_balance(invoice).due) for invoice in overdue]
    key = f"suspension:{oldest.pk}"
    if Notice.objects.filter(key=key).exists():
        key = f"suspension:{oldest.pk}:{today.isoformat()}"  # suspended again after a restore

    def subject() -> str:
        return _("Your pass %(plan)s is suspended, %(space)s") % {
            "plan": pass_obj.plan.name,
            "space": pass_obj.space.name,
        }

    return notifications.build(
        pass_obj=pass_obj,
        kind=NoticeKind.SUSPENSION,
        key=key,
        invoice_id=oldest.pk,
        subject=subject,
        context={
            "overdue": items,
            "total_due": sum((item.due for item in items), Decimal(0)),
            "currency": oldest.currency,
            "iban": pass_obj.space.bank_iban,
            "bic": pass_obj.space.bank_bic,
            "grace_days": (today - oldest.due_date).days,
        },
    )


def pass_suspend(*, pass_obj: Pass, by: User, reason: str, now: datetime) -> Pass:
    """A manager suspends a past-due pass before the dunning job would (PASS_TRANSITIONS allows only
    past due -> suspended: a suspension is always for an unpaid invoice, as the member is told). The
    member gets the suspension e-mail once; the pass is usable again as soon as the invoice is paid."""
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError("reason_required")
    with transaction.atomic():
        locked = (
            Pass.objects.select_for_update(of=("self",))
            .select_related("plan", "space", "member__member")
            .get(pk=pass_obj.pk)
        )
        if locked.status != PassStatus.PAST_DUE:
            raise BillingError("not_past_due")
        today = localtime.local_date(now, locked.space.tz)
        overdue = pass_overdue_invoices(pass_obj=locked, today=today)
        if not overdue:
            raise BillingError("nothing_overdue")
        pass_transition(locked, PassStatus.SUSPENDED)
        notice = _suspension_notice(locked, overdue, today)
        notice.save()
        member_services.audit_record(
            actor=by,
            action="pass.suspend",
            target=locked,
            space_id=locked.space_id,
            before={"status": PassStatus.PAST_DUE},
            after={"status": PassStatus.SUSPENDED, "overdue_invoices": [i.number for i in overdue]},
            note=reason,
        )
        notice_id = notice.pk
        transaction.on_commit(lambda: notifications.send_many([notice_id]))
    pass_obj.status = locked.status
    return locked


def pass_restore(*, pass_obj: Pass, by: User, reason: str, now: datetime) -> Pass:
    """A manager makes a suspended pass usable again. Restoring one whose invoices are still unpaid
    after their due date is the manager's decision: the audit entry says so and names them, and the
    pass's grace period starts again from today (past_due_since = today; billing.dunning counts its
    days from the later of that day and the oldest unpaid due date). With nothing overdue, the pass is
    simply active again."""
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError("reason_required")
    with transaction.atomic():
        locked = Pass.objects.select_for_update(of=("self",)).select_related("space").get(pk=pass_obj.pk)
        if locked.status != PassStatus.SUSPENDED:
            raise BillingError("not_suspended")
        today = localtime.local_date(now, locked.space.tz)
        overdue = pass_overdue_invoices(pass_obj=locked, today=today)
        before = {
            "status": locked.status,
            "past_due_since": locked.past_due_since.isoformat() if locked.past_due_since else None,
            "reminders_sent": locked.reminders_sent,
        }
        since = today if overdue else None
        pass_transition(locked, PassStatus.ACTIVE)
        Pass.objects.filter(pk=locked.pk).update(past_due_since=since, reminders_sent=0)
        locked.past_due_since, locked.reminders_sent = since, 0
        note = reason
        if overdue:
            # In the manager's language, like the reason it follows; the numbers are in `after` too.
            unpaid = _("restored with unpaid overdue invoices (%(numbers)s), as a manager's decision") % {
                "numbers": ", ".join(invoice.number for invoice in overdue)
            }
            note = f"{reason} — {unpaid}"
        member_services.audit_record(
            actor=by,
            action="pass.restore",
            target=locked,
            space_id=locked.space_id,
            before=before,
            after={
                "status": PassStatus.ACTIVE,
                "past_due_since": since.isoformat() if since else None,
                "reminders_sent": 0,
                "unpaid_overdue_invoices": [invoice.number for invoice in overdue],
            },
            note=note,
        )
    pass_obj.status = locked.status
    return locked


# --- goodwill extensions ----------------------------------------------------------------------------

MAX_EXTENSION_DAYS = 90


def realigned_anchor(next_start: date, months: int, index: int) -> date | None:
    """The anchor from which the `index`-th period of `months` months starts on `next_start` (None if no
    date does). Pure.

    Periods of monthly and annual passes are computed from the anchor and their index (billing.periods.
    anchored_period), so an extended period is followed by the next one only if the anchor moves too.
    The anchor taken keeps `next_start`'s day of the month, so the periods that follow run as if the
    pass had started on `next_start` (the 31st falls back to shorter months' last day and returns).
    No anchor exists when that day is missing from the anchor's month (the 29th to 31st after a
    shorter month): the caller then refuses."""
    year, month_index = divmod(next_start.year * 12 + next_start.month - 1 - months * index, 12)
    month = month_index + 1
    if next_start.day > calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, next_start.day)


def _extension_target(pass_obj: Pass, last: PassPeriod, days: int) -> date | None:
    """The anchor an extension of `last` by `days` days needs (the current one if the pass's next
    period does not depend on it), or None if no anchor gives the next period the right start."""
    if pass_obj.kind not in PERIOD_MONTHS:
        return pass_obj.anchor_date
    return realigned_anchor(
        last.end_date + timedelta(days=days + 1), PERIOD_MONTHS[pass_obj.kind], last.number
    )


def pass_extend(*, pass_obj: Pass, days: int, by: User, reason: str) -> PassPeriod:
    """A goodwill gesture: the pass's last period (the current one, or the one already renewed ahead of
    it) ends `days` days later (1 to 90), free of charge; nothing else is shifted or invoiced.

    The rule, so that the renewal job then starts the next period the day after the new end, with no
    gap and no overlap:
    * monthly and annual passes: the anchor moves to the date from which the next period (same number
      as before: the price tiers still count it) starts the day after the new end (realigned_anchor).
      Later periods run from that day of the month. When that day cannot be an anchor (the 29th to
      31st after a shorter month), the extension is refused with the nearest number of days that works;
    * rolling day passes and day passes: only the end moves (their next day is the next open day);
    * packs: the pack's validity and the expiry of its day credits move together;
    and the credits the extended period granted (meeting-room hours, a pack's days) expire on the new
    end. Recorded in the audit log with the dates before and after."""
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError("reason_required")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise BillingError("invalid_days")
    with transaction.atomic():
        locked = Pass.objects.select_for_update().get(pk=pass_obj.pk)
        if locked.status not in (*USABLE_STATUSES, PassStatus.SUSPENDED):
            raise BillingError("not_allowed")
        last = locked.periods.order_by("-number").first()
        if last is None:
            raise BillingError("no_period")
        anchor = _extension_target(locked, last, days)
        if anchor is None:
            raise BillingRefusal(
                "extension_unaligned",
                days=days,
                day=last.end_date + timedelta(days=days + 1),
                other=_nearest_alignable(locked, last, days),
            )
        new_end = last.end_date + timedelta(days=days)
        grants = CreditEntry.objects.filter(
            source_pass=locked, grant__isnull=True, expires_on=last.end_date
        ).order_by("pk")
        grant_ids = list(grants.values_list("pk", flat=True))
        # Ledger rows are appended, never edited, except a grant's expiry, which is the grant's terms.
        CreditEntry.objects.filter(pk__in=grant_ids).update(expires_on=new_end)
        PassPeriod.objects.filter(pk=last.pk).update(end_date=new_end)
        if anchor != locked.anchor_date:
            Pass.objects.filter(pk=locked.pk).update(anchor_date=anchor)
        member_services.audit_record(
            actor=by,
            action="pass.extend",
            target=locked,
            space_id=locked.space_id,
            before={
                "period": last.number,
                "end_date": last.end_date.isoformat(),
                "anchor_date": locked.anchor_date.isoformat(),
            },
            after={
                "period": last.number,
                "end_date": new_end.isoformat(),
                "anchor_date": anchor.isoformat(),
                "days": days,
                "credits_extended": grant_ids,
            },
            note=reason,
        )
    last.end_date = new_end
    pass_obj.anchor_date = anchor
    return last


def _nearest_alignable(pass_obj: Pass, last: PassPeriod, days: int) -> int:
    """The number of days nearest to `days` by which the pass can be extended (longer first on a tie:
    it is a gesture)."""
    for distance in range(1, MAX_EXTENSION_DAYS):
        for candidate in (days + distance, days - distance):
            if 1 <= candidate <= MAX_EXTENSION_DAYS and _extension_target(pass_obj, last, candidate):
                return candidate
    return days  # pragma: no cover - two consecutive days never both miss (months are 28+ days long)


# --- payments through the gateway --------------------------------------------------------------------


def _payment_attempts(items: list[tuple[Invoice, str]], gateway: Gateway) -> list[Payment]:
    """One pending payment per invoice that has something to pay, keyed by what it pays for, stored in
    the caller's transaction: the gateway is called only after commit (an outbox), so a crash between
    the invoice and the charge leaves a pending attempt that a rerun finds, never a second charge."""
    rows = [
        {
            "invoice_id": invoice.pk,
            "amount": invoice.gross,
            "method": "offline" if gateway.name == "offline" else "card",
            "status": PaymentStatus.PENDING,
            "gateway": gateway.name,
            "idempotency_key": key,
        }
        for invoice, key in items
        if invoice.gross > 0
    ]
    bulk.insert_dicts(Payment, rows)
    if gateway.name == "offline":
        return []  # nothing to charge after commit: the amount is owed until a manager records it
    invoices = {invoice.pk: invoice for invoice, _key in items}
    return [Payment(invoice=invoices[row["invoice_id"]], **row) for row in rows]


def _charge_after_commit(payments: list[Payment], gateway: Gateway) -> None:
    if not payments or gateway.name == "offline":
        return  # nothing to call: the amount is owed until a manager records it

    def charge() -> None:
        from billing import cards  # the outcomes of card charges (settle, authentication e-mail)

        cards.charge(payments, gateway)

    # The Stripe gateway answers a network or Stripe error as "still pending" (charged again later by
    # billing.cards.charge_uncharged with the same key); anything else here is a crash, left to surface.
    transaction.on_commit(charge)


# --- renewals ---------------------------------------------------------------------------------------


@dataclass
class RenewalReport:
    examined: int = 0
    renewed: int = 0
    invoices: list[str] = field(default_factory=list)
    expired: int = 0
    skipped: int = 0
    charged_again: int = 0

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
    # The candidates are found once (an aggregate over passes and periods), then renewed chunk by
    # chunk: asking again for each chunk scanned everything once per chunk. Each chunk re-reads its
    # passes under lock, so one renewed meanwhile by a concurrent run is skipped there.
    candidates = list(_candidates(now, lead).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(candidates), chunk_size):
        ids = candidates[start : start + chunk_size]
        report.merge(_renew_chunk(ids, now=now, lead=lead, dry_run=dry_run, gateway=gateway))
    if gateway.name != "offline" and not dry_run:
        from billing import cards

        # Catch-up: the card charges an earlier run committed but never made (it died after its
        # commit, or Stripe was unreachable), with the same idempotency keys.
        report.charged_again = cards.charge_uncharged(gateway=gateway)
    return report


# What the renewal job reads of a pass, its member and their profile (buyer_snapshot, the language).
RENEWAL_FIELDS = (
    *("pk", "member_id", "plan_id", "space_id", "kind", "status", "anchor_date", "auto_renew"),
    "member__email",
    *(
        f"member__member__{name}"
        for name in (
            "billing_name",
            "display_name",
            "company",
            "billing_address",
            "billing_country",
            "vat_number",
            "company_registration",
            "preferred_language",
        )
    ),
)


@dataclass(frozen=True)
class _Last:
    """The last period of a pass, as the renewal job reads it (next_period needs number and end)."""

    number: int
    end_date: date


def _renew_chunk(
    ids: list[int], *, now: datetime, lead: int, dry_run: bool, gateway: Gateway
) -> RenewalReport:
    report = RenewalReport()
    with transaction.atomic():
        # Locked, then read again: a concurrent run that renewed them meanwhile is seen here.
        locked = Pass.objects.select_for_update(of=("self",)).filter(pk__in=ids, status__in=USABLE_STATUSES)
        # The member and their profile come with each pass (the invoice's buyer and language); plans
        # and spaces are few, read once per chunk and shared, rather than built again for every pass.
        passes = list(locked.select_related("member__member").only(*RENEWAL_FIELDS).order_by("pk"))
        spaces = {space.pk: space for space in Space.objects.filter(pk__in={p.space_id for p in passes})}
        plans = {plan.pk: plan for plan in Plan.objects.filter(pk__in={p.plan_id for p in passes})}
        for plan in plans.values():
            plan.space = spaces.get(plan.space_id) or plan.space
        for pass_obj in passes:
            pass_obj.plan, pass_obj.space = plans[pass_obj.plan_id], spaces[pass_obj.space_id]
        last_number = (
            PassPeriod.objects.filter(pass_obj=OuterRef("pass_obj")).order_by("-number").values("number")[:1]
        )
        lasts = {
            pass_id: _Last(number, end_date)
            for pass_id, number, end_date in PassPeriod.objects.filter(
                pass_obj_id__in=ids, number=Subquery(last_number)
            ).values_list("pass_obj_id", "number", "end_date")
        }
        tiers: dict[int, list] = defaultdict(list)
        for tier in PriceTier.objects.filter(plan_id__in={p.plan_id for p in passes}):
            tiers[tier.plan_id].append(tier)
        drafts, new_periods, expiring, grants = [], [], [], []
        terms_by_plan: dict[int, pricing.PlanTerms] = {}
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
            terms = terms_by_plan.get(plan.pk)
            if terms is None:  # once per plan and chunk: the pricing module validates the terms
                terms = terms_by_plan[plan.pk] = plan.terms(
                    sorted(tiers[plan.pk], key=lambda t: t.first_period)
                )
            language = pass_obj.member.member.preferred_language or "fr"
            # The line's label is the plan's name and dates: nothing to translate, no override needed.
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
                {
                    "pass_obj_id": pass_obj.pk,
                    "number": last.number + 1,
                    "start_date": period.start,
                    "end_date": period.end,
                    "unit_price": line.unit_price,
                    "vat_rate": space.vat_rate,
                }
            )
            if plan.room_hours:
                grants += _grants_for(pass_obj, plan, period)
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
            period["invoice_id"] = invoice.pk
        bulk.insert_dicts(PassPeriod, new_periods)
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
    is_desk = resource_kind in ("hot_desk", "dedicated_desk")
    if is_desk and decision is not None and decision.allowed and decision.grant_id is None:
        return Consumption()  # a pass covers the day (or desks are free): nothing to draw
    with transaction.atomic():
        if is_desk:
            return _consume_desk(member, space, day, resource_kind == "dedicated_desk", reference)
        return _consume_room(member, space, day, minutes, hourly_price, description, reference, now, gateway)


def _lock_grants(member_id: int, kind: str) -> None:
    if not connection.features.has_select_for_update:
        return  # SQLite: the IMMEDIATE transaction already holds the database's write lock
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


def credit_note_issue(*, invoice: Invoice, today: date, reason: str = "", by: User | None = None) -> Invoice:
    """A full credit note ("avoir") for an invoice: the same lines with opposite amounts, citing it. An
    unpaid invoice is then settled (credited); a paid one is owed back to the member, which the
    manager refunds (card refunds come with the card gateway). Issued by a manager (`by`), it is
    recorded in the audit log and the member is told by e-mail."""
    if invoice.kind != DocumentKind.INVOICE:
        raise BillingError("not_allowed")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.credit_notes.exists():
            raise BillingError("already_credited")
        before = invoice_balance(invoice)
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
        status_before = invoice.status
        if invoice.status == InvoiceStatus.ISSUED:
            Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.CREDITED)
            invoice.payments.filter(status=PaymentStatus.PENDING).delete()
        if by is not None:
            _credit_note_issued(invoice, note, status_before, before, by=by, reason=reason)
    return note


def _net_for_gross(gross: Decimal, vat_rate: Decimal, currency: str) -> Decimal | None:
    """The amount excluding VAT whose line (billing.pricing.make_line) comes to exactly `gross`
    including VAT, or None when none does: VAT is rounded on the net, so at 20 % a gross of 0.03 is
    between the lines of 0.02 (0.02 + 0.00) and 0.04 (0.03 + 0.01)."""
    minor = Decimal(1).scaleb(-currency_exponent(currency))
    guess = round_money(gross / (1 + vat_rate), currency)
    for net in (guess, guess - minor, guess + minor, guess - 2 * minor, guess + 2 * minor):
        if net > 0 and pricing.make_line("", Decimal(1), net, vat_rate, currency).gross == gross:
            return net
    return None


def _reachable_grosses(gross: Decimal, vat_rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """The nearest amounts including VAT below and above `gross` that one line can come to."""
    minor = Decimal(1).scaleb(-currency_exponent(currency))
    lower, higher = gross - minor, gross + minor
    while lower > 0 and _net_for_gross(lower, vat_rate, currency) is None:
        lower -= minor
    while _net_for_gross(higher, vat_rate, currency) is None:
        higher += minor
    return max(lower, Decimal(0)), higher


def credit_note_partial(
    *,
    invoice: Invoice,
    amount_gross: Decimal,
    reason: str,
    today: date,
    by: User | None,
    expected_credited: Decimal | None = None,
) -> Invoice:
    """A partial credit note ("avoir partiel"): one line of `amount_gross` including VAT, at the invoice's
    VAT rate, citing it. The credit notes of an invoice never add up to more than the invoice: the
    amount is at most what is not credited yet. An unpaid invoice then owes less (it is settled when its
    payments cover the rest, credited when nothing is left); on a paid one, the amount is owed back to
    the member (Balance.to_refund). `expected_credited` (what the manager saw credited) refuses a
    form sent twice. Numbered in the credit-note series (AV), recorded in the audit log, and the member
    is told by e-mail in the invoice's language."""
    if invoice.kind != DocumentKind.INVOICE:
        raise BillingError("not_allowed")
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError("reason_required")
    currency = invoice.currency
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        rates = set(invoice.lines.values_list("vat_rate", flat=True))
        if len(rates) != 1:
            raise BillingError("several_vat_rates")
        rate = rates.pop() / Decimal(100)
        before = invoice_balance(invoice)
        if expected_credited is not None and expected_credited != before.credited:
            raise BillingError("invoice_changed")
        if not before.creditable:
            raise BillingError("fully_credited")
        if (
            not amount_gross.is_finite()
            or amount_gross <= 0
            or amount_gross > before.creditable
            or round_money(amount_gross, currency) != amount_gross
        ):
            raise BillingRefusal("credit_too_large", left=before.creditable, currency=currency)
        net = _net_for_gross(amount_gross, rate, currency)
        if net is None:
            lower, higher = _reachable_grosses(amount_gross, rate, currency)
            raise BillingRefusal(
                "credit_inexact",
                rate=f"{(rate * 100).normalize():f}",
                amount=amount_gross,
                lower=lower,
                higher=min(higher, before.creditable),
                currency=currency,
            )
        with override(invoice.language):
            description = _("Partial credit for %(number)s") % {"number": invoice.number}
            line = pricing.make_line(f"{description} ({reason})"[:300], Decimal(1), -net, rate, currency)
        (note,) = _issue_all(
            [
                _Draft(
                    space=invoice.space,
                    member=invoice.member,
                    lines=[line],
                    issue_date=today,
                    due_date=today,
                    service_start=invoice.service_start,
                    service_end=invoice.service_end,
                    kind=DocumentKind.CREDIT_NOTE,
                    corrects=invoice,
                    buyer=invoice.buyer,
                    language=invoice.language,
                )
            ]
        )
        status_before = invoice.status
        after = Balance(gross=before.gross, paid=before.paid, credited=before.credited + amount_gross)
        if invoice.status == InvoiceStatus.ISSUED:
            if not after.creditable:
                # Nothing of it is left to pay: cancelled by its credit notes, like a full credit note.
                Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.CREDITED)
                invoice.payments.filter(status=PaymentStatus.PENDING).delete()
            elif not after.due:
                _mark_paid([invoice.pk])  # what was paid covers what is left: settled, its pass restored
        _credit_note_issued(invoice, note, status_before, before, by=by, reason=reason)
    return note


def _credit_note_issued(
    invoice: Invoice, note: Invoice, status_before: str, before: Balance, *, by: User | None, reason: str
) -> None:
    """Inside the credit note's transaction: its audit entry, and its e-mail to the member after commit."""
    after = invoice_balance(invoice)
    currency = invoice.currency
    status_after = Invoice.objects.values_list("status", flat=True).get(pk=invoice.pk)
    member_services.audit_record(
        actor=by,
        action="invoice.credit_note",
        target=invoice,
        space_id=invoice.space_id,
        before={
            "status": status_before,
            "credited": _audited(before.credited, currency),
            "paid": _audited(before.paid, currency),
            "due": _audited(before.due, currency),
            "to_refund": _audited(before.to_refund, currency),
        },
        after={
            "status": status_after,
            "credit_note": note.number,
            "amount": _audited(-note.gross, currency),
            "credited": _audited(after.credited, currency),
            "paid": _audited(after.paid, currency),
            "due": _audited(after.due, currency),
            "to_refund": _audited(after.to_refund, currency),
        },
        note=reason,
    )
    refund = after.to_refund - before.to_refund
    note_id = note.pk
    transaction.on_commit(lambda: credit_note_email_send(note_id=note_id, refund=refund, reason=reason))


def credit_note_email(
    *, note: Invoice, refund: Decimal = Decimal(0), reason: str = ""
) -> EmailMessage | None:
    """The e-mail telling a member that a credit note was issued on one of their invoices, in the
    invoice's language, with the credit note as PDF (None for an erased or deactivated account)."""
    from billing import documents  # imported when needed: it loads the PDF library

    invoice = note.corrects
    member = note.member
    if not member.is_active:
        return None
    balance = invoice_balance(invoice)
    codes = {code for code, _name in settings.LANGUAGES}
    language = invoice.language if invoice.language in codes else settings.LANGUAGE_CODE
    with override(language):
        subject = _("Credit note %(number)s on your invoice %(invoice)s, %(space)s") % {
            "number": note.number,
            "invoice": invoice.number,
            "space": invoice.space.name,
        }
        context = {
            "name": member.member.name,
            "note": note,
            "invoice": invoice,
            "space": invoice.space,
            "amount": -note.gross,
            "currency": note.currency,
            "reason": reason,
            "refund": refund,
            "due": balance.due if invoice.status == InvoiceStatus.ISSUED else Decimal(0),
            "SITE_URL": settings.SITE_URL,
        }
        body = render_to_string("billing/email/credit_note.txt", context)
        pdf = documents.invoice_pdf(documents.invoice_document(invoice=note, paid=Decimal(0)))
    space = invoice.space
    message = EmailMessage(
        subject=(settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject)[:200],
        body=body,
        to=[member.email],
        reply_to=[space.email] if space.email else None,
    )
    message.attach(f"{note.number}.pdf", pdf, "application/pdf")
    return message


def credit_note_email_send(*, note_id: int, refund: Decimal = Decimal(0), reason: str = "") -> bool:
    """Sends the credit-note e-mail (after the credit note committed). A failure is logged, never
    raised: the credit note stands, and the member also finds it in their invoices."""
    note = Invoice.objects.select_related("corrects__space", "member__member").get(pk=note_id)
    try:
        message = credit_note_email(note=note, refund=refund, reason=reason)
        if message is None:
            return False
        message.send()
    except Exception:
        logger.exception("credit note e-mail failed", extra={"credit_note": note.number})
        return False
    return True


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
