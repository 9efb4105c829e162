"""Card payments with Stripe: the services behind the first purchase (Stripe Checkout), the saved card
(replace, remove), off-session renewals' outcomes, refunds, Stripe's webhooks and the sweep.

The rules that hold whatever order things happen in:

* Stripe is the source of truth for a payment's state. Webhook handlers and the return page never trust
  what they are handed (an event's body, a query string): they re-fetch the object from Stripe, then
  move our Payment only along PAYMENT_TRANSITIONS (a succeeded payment never goes back; a failed one may
  still succeed). Any arrival order, and any number of deliveries, ends in the same state.
* Every Stripe event is recorded by id (WebhookEvent, unique) in the transaction that applies it: a
  redelivery, or two deliveries racing, take effect once.
* Calls that create something at Stripe carry an idempotency key derived from what they are for; the
  rows that owe a call (a pending attempt, a pending refund) are written first, the call is made after
  commit, and the sweep makes the calls still owed. A crash anywhere is finished by a rerun.
* E-mails (confirm a payment, card removed, refund) are Notice rows in the same transaction as their
  cause, sent after commit, and by billing.notifications.sweep otherwise.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing import notifications, services
from billing import stripe_gateway as edge
from billing.gateways import ChargeRequest, ChargeResult, Gateway
from billing.models import (
    PAYMENT_TRANSITIONS,
    USABLE_STATUSES,
    CardAccount,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Notice,
    NoticeKind,
    Pass,
    PassStatus,
    Payment,
    PaymentStatus,
    Refund,
    WebhookEvent,
)
from billing.money import round_money
from members import selectors as member_selectors
from members import services as member_services
from members.models import User
from spaces import localtime

logger = logging.getLogger(__name__)

OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.ACTION_REQUIRED)
SWEEP_GRACE = timedelta(minutes=10)  # leave the after-commit call and Stripe's webhooks time first
ABANDONED_AFTER = timedelta(hours=24)  # a Checkout Session expires after 24 hours at the latest

BillingError = services.BillingError
BillingError.MESSAGES.update(
    {
        "cards_disabled": gettext_noop("Card payments are not available."),
        "nothing_due": gettext_noop("Nothing is due on this invoice."),
        "not_refundable": gettext_noop("Only a card payment received through Stripe can be refunded here."),
        "refund_too_large": gettext_noop(
            "The refund must be positive and at most what is left of this payment (%(left)s %(currency)s)."
        ),
        "payment_unknown": gettext_noop("This payment was not found."),
        "stripe_unavailable": gettext_noop(
            "The card payment service is not answering. Nothing was charged: please try again in a moment."
        ),
        "no_card": gettext_noop("You have no saved card."),
    }
)


# --- the saved card and the Stripe Customer ---------------------------------------------------------


def saved_card(*, member_id: int) -> CardAccount | None:
    account = CardAccount.objects.filter(member_id=member_id).exclude(customer_id=None).first()
    return account if account is not None and account.has_card else None


def customer_for(*, user: User, refresh: bool = False) -> str:
    """The member's Stripe Customer id, created the first time it is needed with their billing details
    and VAT number (`refresh`: an existing one gets their current name, e-mail and address). Two tabs
    create one customer: the creation's idempotency key is the member's, and the row is locked to store
    it; the key also covers a crash between Stripe's answer and our commit."""
    account, _created = CardAccount.objects.get_or_create(member=user)
    buyer = services.buyer_snapshot(user)
    if account.customer_id:
        if refresh:
            edge.customer_update(
                customer_id=account.customer_id,
                email=user.email,
                name=buyer["name"],
                address=buyer["address"],
                country=buyer["country"],
            )
        return account.customer_id
    customer = edge.customer_create(
        key=f"customer:{user.pk}",
        email=user.email,
        name=buyer["name"],
        address=buyer["address"],
        country=buyer["country"],
        vat_number=buyer["vat_number"],
        member_id=user.pk,
    )
    with transaction.atomic():
        locked = CardAccount.objects.select_for_update().get(pk=account.pk)
        if not locked.customer_id:
            CardAccount.objects.filter(pk=account.pk).update(customer_id=customer["id"])
            return customer["id"]
        return locked.customer_id


@dataclass(frozen=True)
class CardDetails:
    id: str
    customer: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


def card_details(payment_method_id: str) -> CardDetails:
    method = edge.payment_method_retrieve(payment_method_id)
    card = method.get("card") or {}
    return CardDetails(
        id=method["id"],
        customer=method.get("customer") or "",
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def card_save(*, customer_id: str, details: CardDetails) -> bool:
    """Makes `details` the saved card of the member whose customer it belongs to (a card of another
    customer is ignored). Returns True if it changed; the card it replaced is detached after commit."""
    if not customer_id or details.customer != customer_id:
        return False
    with transaction.atomic():
        account = CardAccount.objects.select_for_update().filter(customer_id=customer_id).first()
        if account is None or account.payment_method_id == details.id:
            return False
        old = account.payment_method_id
        CardAccount.objects.filter(pk=account.pk).update(
            payment_method_id=details.id,
            brand=details.brand,
            last4=details.last4,
            exp_month=details.exp_month,
            exp_year=details.exp_year,
        )
        member_id = account.member_id
        if old:
            transaction.on_commit(lambda: edge.payment_method_detach(old), robust=True)
        # A new card settles what the old one could not (renewals declined, or due with no card).
        transaction.on_commit(lambda: retry_open_invoices(member_id=member_id), robust=True)
    return True


def card_remove(*, user: User) -> bool:
    """The member removes their card: detached at Stripe, forgotten here. Passes that renew by
    themselves then need another way to pay, and the member is told by e-mail."""
    account = saved_card(member_id=user.pk)
    if account is None:
        raise BillingError("no_card")
    edge.payment_method_detach(account.payment_method_id)
    return _card_forget(account.payment_method_id)


def _card_forget(payment_method_id: str) -> bool:
    with transaction.atomic():
        account = CardAccount.objects.select_for_update().filter(payment_method_id=payment_method_id).first()
        if account is None:
            return False
        CardAccount.objects.filter(pk=account.pk).update(
            payment_method_id="", brand="", last4="", exp_month=None, exp_year=None
        )
        renewing = list(
            Pass.objects.filter(member_id=account.member_id, auto_renew=True, status__in=USABLE_STATUSES)
            .select_related("plan", "space", "member__member")
            .order_by("pk")
        )
        if renewing:
            notice = notifications.build(
                kind=NoticeKind.CARD_REMOVED,
                key=f"card_removed:{account.member_id}:{payment_method_id}",
                pass_obj=renewing[0],
                subject=lambda: _("Your card was removed: how your passes will be paid"),
                context={"passes": renewing, "card_url": settings.SITE_URL + reverse("billing:card")},
            )
            _record_and_send(notice)
    return True


# --- notices ----------------------------------------------------------------------------------------


def _record_and_send(notice: Notice) -> None:
    """Inside the caller's transaction: the row once (its key is unique), sent after commit."""
    if Notice.objects.filter(key=notice.key).exists():
        return
    notice.save()
    notice_id = notice.pk
    transaction.on_commit(lambda: notifications.send_many([notice_id]), robust=True)


def _pass_of(invoice: Invoice) -> Pass | None:
    return (
        Pass.objects.filter(periods__invoice=invoice)
        .select_related("plan", "space", "member__member")
        .first()
    )


# --- payments: moving along the allowed transitions -------------------------------------------------


def _today(invoice: Invoice) -> date:
    return localtime.local_date(timezone.now(), invoice.space.tz)


def payment_apply(*, payment_id: int, state: edge.IntentState) -> str:
    """Brings our payment to the state of its PaymentIntent, as read from Stripe, if
    PAYMENT_TRANSITIONS allows it (otherwise nothing changes: an older state arriving late). A success
    settles the invoice and activates a pass bought by card; a request for authentication e-mails
    the member a link to pay on-session. Returns the payment's status afterwards."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice__space").get(pk=payment_id)
        target = state.payment_status
        if payment.intent_id and payment.intent_id != state.id:
            return payment.status  # another PaymentIntent than this attempt's: not ours to apply
        if target == payment.status or target not in PAYMENT_TRANSITIONS[payment.status]:
            if not payment.intent_id:
                Payment.objects.filter(pk=payment.pk).update(intent_id=state.id)
            return payment.status
        invoice = payment.invoice
        changes = {"status": target, "intent_id": state.id, "reference": state.id, "method": "card"}
        if target == PaymentStatus.SUCCEEDED:
            if state.amount_received and state.amount_received != payment.amount:
                logger.warning(
                    "card payment amount differs", extra={"payment": payment.pk, "intent": state.id}
                )
            changes["received_on"] = _today(invoice)
        Payment.objects.filter(pk=payment.pk).update(**changes)
        if target == PaymentStatus.SUCCEEDED:
            _settled(payment, invoice)
        elif target == PaymentStatus.ACTION_REQUIRED:
            _ask_for_authentication(payment, invoice)
        logger.info("card payment %s", target, extra={"payment": payment.pk, "intent": state.id})
        return target


def _settled(payment: Payment, invoice: Invoice) -> None:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    # The other open attempts on this invoice must not charge it again (a renewal's first attempt
    # left pending for want of a card, a declined one the sweep would retry).
    others = invoice.payments.filter(status__in=OPEN_STATUSES).exclude(pk=payment.pk)
    others.filter(gateway="offline").delete()
    _fail_open(others)
    if invoice.status == InvoiceStatus.ISSUED and not services.invoice_balance(invoice).due:
        services._mark_paid([invoice.pk])
    for pass_obj in Pass.objects.filter(periods__invoice=invoice, status=PassStatus.PENDING):
        services.pass_transition(pass_obj, PassStatus.ACTIVE)


def _fail_open(attempts) -> None:
    """Marks these open attempts failed, and cancels their PaymentIntents at Stripe after commit."""
    to_cancel = list(attempts.exclude(intent_id="").values_list("intent_id", flat=True))
    attempts.update(status=PaymentStatus.FAILED)
    for intent_id in to_cancel:
        transaction.on_commit(lambda intent_id=intent_id: edge.cancel_intent(intent_id), robust=True)


def _ask_for_authentication(payment: Payment, invoice: Invoice) -> None:
    member = invoice.member
    if not member.is_active:
        return
    pass_obj = _pass_of(invoice)
    url = settings.SITE_URL + reverse("billing:invoice_pay", args=[invoice.number])
    notice = notifications.build(
        kind=NoticeKind.PAYMENT_ACTION,
        key=f"payment_action:{payment.pk}",
        pass_obj=pass_obj,
        invoice=invoice,
        subject=lambda: _("Confirm your card payment for invoice %(number)s") % {"number": invoice.number},
        context={"amount": payment.amount, "currency": invoice.currency, "pay_url": url},
    )
    _record_and_send(notice)


def charge_results_apply(*, payments: list[Payment], results: list[ChargeResult]) -> None:
    """After a gateway charged attempts (renewals, off-session retries): each result moves its payment."""
    stored = dict(
        Payment.objects.filter(idempotency_key__in=[p.idempotency_key for p in payments]).values_list(
            "idempotency_key", "pk"
        )
    )
    for payment, result in zip(payments, results, strict=True):
        payment_id = stored.get(payment.idempotency_key)
        if payment_id is None:
            continue
        if result.intent_id:
            state = edge.IntentState(
                id=result.intent_id,
                status={
                    PaymentStatus.SUCCEEDED: "succeeded",
                    PaymentStatus.ACTION_REQUIRED: "requires_action",
                    PaymentStatus.FAILED: "requires_payment_method",
                }.get(result.status, "processing"),
                amount_received=payment.amount if result.status == PaymentStatus.SUCCEEDED else Decimal(0),
                currency=payment.invoice.currency,
                payment_method="",
            )
            payment_apply(payment_id=payment_id, state=state)
        elif result.status != PaymentStatus.PENDING:
            # A gateway without PaymentIntents (a test double): its outcome, along the same transitions.
            with transaction.atomic():
                locked = Payment.objects.select_for_update().get(pk=payment_id)
                if result.status in PAYMENT_TRANSITIONS[locked.status]:
                    Payment.objects.filter(pk=payment_id).update(
                        status=result.status, method=result.method, reference=result.reference
                    )
                    if result.status == PaymentStatus.SUCCEEDED:
                        _settled(locked, locked.invoice)


def charge(payments: list[Payment], gateway: Gateway) -> None:
    """Charges the payment attempts through the gateway and applies what it answers."""
    requests = [
        ChargeRequest(p.invoice_id, p.amount, p.invoice.currency, p.invoice.member_id, p.idempotency_key)
        for p in payments
    ]
    if requests:
        charge_results_apply(payments=payments, results=gateway.charge_many(requests))


def charge_uncharged(
    *, gateway: Gateway, before: datetime | None = None, exclude: set[int] = frozenset()
) -> int:
    """Charges again the card attempts still owed a call (a job that died between its commit and the
    charge, Stripe unreachable then, a member without a card then): the same idempotency key, so an
    attempt Stripe did receive is answered with the same PaymentIntent, never a second charge."""
    if gateway.name == "offline":
        return 0
    members_with_card = CardAccount.objects.exclude(payment_method_id="").values("member_id")
    rows = (
        Payment.objects.filter(
            gateway=gateway.name,
            status=PaymentStatus.PENDING,
            intent_id="",
            checkout_session_id="",
            invoice__status=InvoiceStatus.ISSUED,
            invoice__member_id__in=members_with_card,
        )
        .exclude(pk__in=exclude)
        # A pass bought by card is paid in Checkout, by the member, never charged off-session.
        .exclude(invoice__pass_periods__pass_obj__status=PassStatus.PENDING)
        .select_related("invoice")
        .order_by("pk")
    )
    if before is not None:
        rows = rows.filter(created_at__lte=before)
    payments = list(rows[:500])
    charge(payments, gateway)
    return len(payments)


def retry_open_invoices(*, member_id: int) -> int:
    """After a new card is saved: one new off-session attempt on each of the member's unpaid invoices
    whose card payment failed, waits for an authentication, or never had a card to charge."""
    from billing.gateways import default_gateway

    gateway = default_gateway()
    if gateway.name == "offline":
        return 0
    account = saved_card(member_id=member_id)
    if account is None:
        return 0
    attempts = []
    with transaction.atomic():
        invoices = (
            Invoice.objects.filter(
                member_id=member_id,
                kind=DocumentKind.INVOICE,
                status=InvoiceStatus.ISSUED,
                payments__gateway=gateway.name,
                payments__status__in=(*OPEN_STATUSES, PaymentStatus.FAILED),
            )
            # Not what the member is paying in Checkout right now, nor a pass bought by card that they
            # have not paid yet: those are theirs to pay on-session, not ours to charge.
            .exclude(pass_periods__pass_obj__status=PassStatus.PENDING)
            .exclude(payments__status=PaymentStatus.PENDING, payments__checkout_session_id__gt="")
            .distinct()
        )
        # Locked one by one (FOR UPDATE cannot take DISTINCT): a concurrent payment is seen under the lock.
        ids = list(invoices.values_list("pk", flat=True))
        for invoice in (
            Invoice.objects.select_for_update().filter(pk__in=ids, status=InvoiceStatus.ISSUED).order_by("pk")
        ):
            due = services.invoice_balance(invoice).due
            if not due:
                continue
            key = f"retry:{invoice.pk}:{account.payment_method_id}"
            if Payment.objects.filter(idempotency_key=key).exists():
                continue
            _fail_open(invoice.payments.filter(status__in=OPEN_STATUSES))
            attempts.append(
                Payment.objects.create(
                    invoice=invoice,
                    amount=due,
                    method="card",
                    status=PaymentStatus.PENDING,
                    gateway=gateway.name,
                    idempotency_key=key,
                )
            )
    charge(attempts, gateway)
    return len(attempts)


# --- Checkout: paying an invoice on-session ---------------------------------------------------------


def _open_checkout_attempt(invoice: Invoice, due: Decimal) -> tuple[Payment, str | None]:
    """The pending Checkout attempt for what is due, and the URL of its session when that is still open
    (None: a session is to be created)."""
    attempt = (
        invoice.payments.filter(status=PaymentStatus.PENDING, gateway="stripe", intent_id="")
        .order_by("-pk")
        .first()
    )
    if attempt is not None and attempt.checkout_session_id:
        try:
            session = edge.checkout_retrieve(attempt.checkout_session_id)
        except stripe.StripeError:
            session = None
        if session is not None and session["status"] == "open" and attempt.amount == due:
            return attempt, session["url"]  # the same page again, not a second session paid twice
        Payment.objects.filter(pk=attempt.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.FAILED
        )
        attempt = None
    if attempt is None:
        attempt = Payment.objects.create(
            invoice=invoice, amount=due, method="card", status=PaymentStatus.PENDING, gateway="stripe"
        )
        Payment.objects.filter(pk=attempt.pk).update(idempotency_key=f"checkout:{attempt.pk}")
        attempt.idempotency_key = f"checkout:{attempt.pk}"
    elif attempt.amount != due:
        Payment.objects.filter(pk=attempt.pk).update(amount=due)
        attempt.amount = due
    return attempt, None


def checkout_start(*, user: User, invoice: Invoice, return_url: str, cancel_url: str) -> str:
    """The URL of Stripe Checkout for what is due on one of the member's invoices (in their language,
    saving the card for renewals). The attempt is a pending Payment whose session id is kept: the
    return page and the webhooks find it by that id, never by anything the browser sends."""
    if not edge.enabled():
        raise BillingError("cards_disabled")
    if invoice.member_id != user.pk or invoice.kind != DocumentKind.INVOICE:
        raise BillingError("payment_unknown")
    try:
        customer_id = customer_for(user=user, refresh=True)
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
            due = services.invoice_balance(invoice).due if invoice.status == InvoiceStatus.ISSUED else 0
            if not due:
                raise BillingError("nothing_due")
            attempt, open_url = _open_checkout_attempt(invoice, due)
        if open_url is not None:
            return open_url
        description = invoice.lines.order_by("position").values_list("description", flat=True).first()
        session = edge.checkout_payment_create(
            key=attempt.idempotency_key,
            customer_id=customer_id,
            amount=attempt.amount,
            currency=invoice.currency,
            description=f"{invoice.number} · {description or invoice.space.name}",
            language=member_selectors.language_of(user),
            success_url=return_url + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=cancel_url,
            metadata={"payment_id": str(attempt.pk), "invoice": invoice.number},
        )
    except stripe.StripeError as error:
        logger.warning("checkout not started", extra={"invoice": invoice.number, "error": str(error)})
        raise BillingError("stripe_unavailable") from error
    Payment.objects.filter(pk=attempt.pk, checkout_session_id="").update(checkout_session_id=session["id"])
    return session["url"]


def card_setup_start(*, user: User, return_url: str, cancel_url: str) -> str:
    """The URL of Stripe Checkout in setup mode (a SetupIntent): saves a new card, charges nothing."""
    if not edge.enabled():
        raise BillingError("cards_disabled")
    try:
        customer_id = customer_for(user=user)
        session = edge.checkout_setup_create(
            key=f"setup:{user.pk}:{timezone.now().timestamp():.0f}",
            customer_id=customer_id,
            language=member_selectors.language_of(user),
            success_url=return_url + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=cancel_url,
            metadata={"member_id": str(user.pk)},
        )
    except stripe.StripeError as error:
        raise BillingError("stripe_unavailable") from error
    return session["url"]


@dataclass(frozen=True)
class CheckoutOutcome:
    mode: str  # "payment" or "setup"
    status: str  # our payment's status, or "saved" / "open" for a setup
    invoice: Invoice | None = None


def _fetch_session(session_id: str) -> dict:
    """The session and what it led to, read from Stripe (never from the caller)."""
    session = edge.checkout_retrieve(session_id)
    fetched: dict = {"session": session, "intent": None, "card": None}
    intent_id = session.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if session["mode"] == "payment" and intent_id:
        fetched["intent"] = edge.retrieve_intent(intent_id)
        if fetched["intent"].payment_method and fetched["intent"].status == "succeeded":
            fetched["card"] = card_details(fetched["intent"].payment_method)
    setup_id = session.get("setup_intent")
    if isinstance(setup_id, dict):
        setup_id = setup_id.get("id")
    if session["mode"] == "setup" and setup_id:
        setup = edge.setup_intent_retrieve(setup_id)
        if setup["status"] == "succeeded" and setup.get("payment_method"):
            fetched["card"] = card_details(setup["payment_method"])
    return fetched


def _apply_session(fetched: dict) -> CheckoutOutcome | None:
    session = fetched["session"]
    customer_id = session.get("customer") or ""
    if session["mode"] == "setup":
        if fetched["card"] is None:
            return CheckoutOutcome(mode="setup", status=session["status"])
        card_save(customer_id=customer_id, details=fetched["card"])
        return CheckoutOutcome(mode="setup", status="saved")
    payment = Payment.objects.filter(checkout_session_id=session["id"]).select_related("invoice").first()
    if payment is None:
        return None
    status = payment.status
    if fetched["intent"] is not None:
        status = payment_apply(payment_id=payment.pk, state=fetched["intent"])
    elif session["status"] == "expired":
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
                status=PaymentStatus.FAILED
            )
        status = PaymentStatus.FAILED
    if fetched["card"] is not None and status == PaymentStatus.SUCCEEDED:
        card_save(customer_id=customer_id, details=fetched["card"])
    return CheckoutOutcome(mode="payment", status=status, invoice=payment.invoice)


def checkout_return(*, user: User, session_id: str) -> CheckoutOutcome:
    """The page Stripe sends the member back to. The session id in the query string is only a name:
    it must be one we created for this member (a Payment carries it, or the member's customer owns
    the setup session), and its state is read from Stripe. A forged or foreign id is refused."""
    if not edge.enabled():
        raise BillingError("cards_disabled")
    session_id = (session_id or "").strip()
    if not session_id.startswith("cs_") or len(session_id) > 255:
        raise BillingError("payment_unknown")
    known = Payment.objects.filter(checkout_session_id=session_id, invoice__member=user).exists()
    account = CardAccount.objects.filter(member=user).exclude(customer_id=None).first()
    if not known and account is None:
        raise BillingError("payment_unknown")
    try:
        fetched = _fetch_session(session_id)
    except stripe.InvalidRequestError as error:
        raise BillingError("payment_unknown") from error
    except stripe.StripeError as error:
        raise BillingError("stripe_unavailable") from error
    session = fetched["session"]
    if not known and (session["mode"] != "setup" or session.get("customer") != account.customer_id):
        raise BillingError("payment_unknown")
    outcome = _apply_session(fetched)
    if outcome is None:
        raise BillingError("payment_unknown")
    return outcome


# --- refunds ----------------------------------------------------------------------------------------


def refundable(payment: Payment) -> Decimal:
    if payment.gateway != "stripe" or payment.status != PaymentStatus.SUCCEEDED or not payment.intent_id:
        return Decimal(0)
    return payment.amount - payment.refunded


def payment_refund(*, payment: Payment, amount: Decimal, reason: str, by: User | None, today: date) -> Refund:
    """A manager refunds all or part of a card payment: a credit note for the amount (full or
    partial), the refund owed to Stripe (made after commit with the refund's own idempotency key),
    an audit entry and an e-mail to the member, in one transaction. The payment row is locked, so two
    refunds together never exceed what was paid."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise BillingError("reason_required")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice__space").get(pk=payment.pk)
        left = refundable(payment)
        if not left:
            raise BillingError("not_refundable")
        currency = payment.invoice.currency
        if (
            not isinstance(amount, Decimal)
            or not amount.is_finite()
            or amount <= 0
            or amount > left
            or round_money(amount, currency) != amount
        ):
            raise services.BillingRefusal("refund_too_large", left=left, currency=currency)
        invoice = payment.invoice
        balance = services.invoice_balance(invoice)
        if amount == invoice.gross and not balance.credited:
            note = services.credit_note_issue(invoice=invoice, today=today, reason=reason, by=by)
        else:
            note = services.credit_note_partial(
                invoice=invoice, amount_gross=amount, reason=reason, today=today, by=by
            )
        Payment.objects.filter(pk=payment.pk).update(refunded=F("refunded") + amount)
        refund = Refund.objects.create(
            payment=payment, credit_note=note, amount=amount, reason=reason[:200], created_by=by
        )
        member_services.audit_record(
            actor=by,
            action="payment.refund",
            target=invoice,
            space_id=invoice.space_id,
            before={"refunded": str(payment.refunded), "paid": str(payment.amount)},
            after={
                "refunded": str(payment.refunded + amount),
                "amount": str(amount),
                "credit_note": note.number,
                "intent": payment.intent_id,
            },
            note=reason,
        )
        if invoice.member.is_active:
            notice = notifications.build(
                kind=NoticeKind.REFUND,
                key=f"refund:{refund.pk}",
                pass_obj=_pass_of(invoice),
                invoice=invoice,
                subject=lambda: (
                    _("Refund of %(amount)s %(currency)s on invoice %(number)s")
                    % {"amount": amount, "currency": currency, "number": invoice.number}
                ),
                context={"amount": amount, "currency": currency, "note": note, "reason": reason},
            )
            _record_and_send(notice)
        refund_id = refund.pk
        transaction.on_commit(lambda: refund_submit(refund_id=refund_id), robust=True)
    return refund


def refund_submit(*, refund_id: int) -> str:
    """Asks Stripe for a refund owed (after its commit, or again from the sweep; same key)."""
    refund = Refund.objects.select_related("payment__invoice").get(pk=refund_id)
    if refund.refund_id:
        return refund.status
    try:
        remote = edge.refund_create(
            intent_id=refund.payment.intent_id,
            amount=refund.amount,
            currency=refund.payment.invoice.currency,
            key=refund.idempotency_key,
            metadata={"refund_id": str(refund.pk), "credit_note": refund.credit_note.number},
        )
    except stripe.StripeError:
        logger.exception("refund not submitted, the sweep will retry", extra={"refund": refund.pk})
        return refund.status
    return refund_apply(remote=remote, refund_pk=refund.pk)


def refund_apply(*, remote, refund_pk: int | None = None) -> str:
    """Records Stripe's state of a refund (pending -> succeeded or failed; nothing goes back)."""
    status = {
        "succeeded": Refund.Status.SUCCEEDED,
        "failed": Refund.Status.FAILED,
        "canceled": Refund.Status.FAILED,
    }
    target = status.get(remote["status"], Refund.Status.PENDING)
    metadata = remote.get("metadata") or {}
    pk = refund_pk or metadata.get("refund_id")
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(pk=pk).first() if pk else None
        if refund is None:
            refund = Refund.objects.select_for_update().filter(refund_id=remote["id"]).first()
        if refund is None:
            return ""
        changes = {} if refund.refund_id else {"refund_id": remote["id"]}
        if refund.status == Refund.Status.PENDING and target != Refund.Status.PENDING:
            changes["status"] = target
            if target == Refund.Status.FAILED:
                logger.error("card refund failed", extra={"refund": refund.pk})
        if changes:
            Refund.objects.filter(pk=refund.pk).update(**changes)
        return changes.get("status", refund.status)


# --- webhooks ---------------------------------------------------------------------------------------


def _fetch_intent_event(intent_id: str) -> dict:
    intent = edge.client().v1.payment_intents.retrieve(intent_id)
    return {"intent": edge.intent_state(intent), "metadata": dict(intent.get("metadata") or {})}


def _apply_intent_event(fetched: dict) -> None:
    state, metadata = fetched["intent"], fetched["metadata"]
    payment = Payment.objects.filter(intent_id=state.id).first()
    if payment is None and metadata.get("payment_id", "").isdigit():
        payment = Payment.objects.filter(pk=int(metadata["payment_id"]), gateway="stripe").first()
    if payment is None and metadata.get("key"):
        payment = Payment.objects.filter(idempotency_key=metadata["key"], gateway="stripe").first()
    if payment is not None:
        payment_apply(payment_id=payment.pk, state=state)


def _fetch_setup_event(setup_id: str) -> dict:
    setup = edge.setup_intent_retrieve(setup_id)
    card = None
    if setup["status"] == "succeeded" and setup.get("payment_method"):
        card = card_details(setup["payment_method"])
    return {"customer": setup.get("customer") or "", "card": card}


def _apply_setup_event(fetched: dict) -> None:
    if fetched["card"] is not None:
        card_save(customer_id=fetched["customer"], details=fetched["card"])


def _fetch_refund_event(refund_id: str) -> dict:
    return {"refund": edge.refund_retrieve(refund_id)}


def _apply_refund_event(fetched: dict) -> None:
    refund_apply(remote=fetched["refund"])


def _fetch_charge_refunded(charge: dict) -> dict:
    refunds = [edge.refund_retrieve(r["id"]) for r in ((charge.get("refunds") or {}).get("data") or [])]
    intent_id = charge.get("payment_intent")
    if intent_id:
        known = Refund.objects.filter(payment__intent_id=intent_id).exclude(refund_id="")
        seen = {r["id"] for r in refunds}
        refunds += [
            edge.refund_retrieve(r) for r in known.values_list("refund_id", flat=True) if r not in seen
        ]
    return {"refunds": refunds}


def _apply_charge_refunded(fetched: dict) -> None:
    for remote in fetched["refunds"]:
        refund_apply(remote=remote)


def _fetch_detached(payment_method_id: str) -> dict:
    return {"method": edge.payment_method_retrieve(payment_method_id)}


def _apply_detached(fetched: dict) -> None:
    method = fetched["method"]
    if not method.get("customer"):  # still detached now (not attached again since)
        _card_forget(method["id"])


# Event type -> (fetch the object again from Stripe, apply it). Other types are acknowledged.
HANDLERS = {
    "checkout.session.completed": (lambda obj: _fetch_session(obj["id"]), _apply_session),
    "checkout.session.async_payment_succeeded": (lambda obj: _fetch_session(obj["id"]), _apply_session),
    "checkout.session.async_payment_failed": (lambda obj: _fetch_session(obj["id"]), _apply_session),
    "checkout.session.expired": (lambda obj: _fetch_session(obj["id"]), _apply_session),
    "payment_intent.succeeded": (lambda obj: _fetch_intent_event(obj["id"]), _apply_intent_event),
    "payment_intent.payment_failed": (lambda obj: _fetch_intent_event(obj["id"]), _apply_intent_event),
    "payment_intent.requires_action": (lambda obj: _fetch_intent_event(obj["id"]), _apply_intent_event),
    "payment_intent.processing": (lambda obj: _fetch_intent_event(obj["id"]), _apply_intent_event),
    "payment_intent.canceled": (lambda obj: _fetch_intent_event(obj["id"]), _apply_intent_event),
    "setup_intent.succeeded": (lambda obj: _fetch_setup_event(obj["id"]), _apply_setup_event),
    "refund.created": (lambda obj: _fetch_refund_event(obj["id"]), _apply_refund_event),
    "refund.updated": (lambda obj: _fetch_refund_event(obj["id"]), _apply_refund_event),
    "refund.failed": (lambda obj: _fetch_refund_event(obj["id"]), _apply_refund_event),
    "charge.refunded": (_fetch_charge_refunded, _apply_charge_refunded),
    "payment_method.detached": (lambda obj: _fetch_detached(obj["id"]), _apply_detached),
}


def event_handle(*, event_id: str, event_type: str, obj: dict) -> str:
    """Applies one verified Stripe event: "done", "duplicate" (already applied: acknowledged, nothing
    done) or "ignored" (a type we do not use). The object is fetched again from Stripe first (events
    arrive out of order and may be stale); the event's id is recorded, uniquely, in the transaction
    that applies it, so that of two concurrent deliveries one applies and the other finds it there.
    A StripeError or a database error propagates: the view answers 5xx and Stripe delivers again."""
    if WebhookEvent.objects.filter(event_id=event_id).exists():
        return "duplicate"
    handler = HANDLERS.get(event_type)
    fetched = handler[0](obj) if handler else None
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                event_id=event_id, type=event_type[:100], object_id=obj.get("id", "")[:255]
            )
            if handler:
                handler[1](fetched)
    except IntegrityError:
        if WebhookEvent.objects.filter(event_id=event_id).exists():
            return "duplicate"
        raise
    return "done" if handler else "ignored"


# --- the sweep --------------------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict:
    """Nothing stays pending forever: re-reads the card payments still open (processing, waiting for
    an authentication), makes the charges and refunds still owed, closes Checkout attempts that were
    abandoned (their pass bought by card is cancelled, its invoice cancelled by a credit note). Safe
    to run twice or concurrently: every step is keyed or moves along the allowed transitions."""
    from billing.gateways import default_gateway

    now = now or timezone.now()
    report = {"refreshed": 0, "charged": 0, "refunds": 0, "abandoned": 0}
    if not edge.enabled():
        return report
    old = now - SWEEP_GRACE
    for payment_id, intent_id in (
        Payment.objects.filter(gateway="stripe", status__in=OPEN_STATUSES, created_at__lte=old)
        .exclude(intent_id="")
        .values_list("pk", "intent_id")[:500]
    ):
        try:
            payment_apply(payment_id=payment_id, state=edge.retrieve_intent(intent_id))
            report["refreshed"] += 1
        except stripe.StripeError:
            logger.exception("card payment not refreshed", extra={"payment": payment_id})
    for payment_id, session_id in (
        Payment.objects.filter(
            gateway="stripe", status=PaymentStatus.PENDING, intent_id="", created_at__lte=old
        )
        .exclude(checkout_session_id="")
        .values_list("pk", "checkout_session_id")[:500]
    ):
        try:
            outcome = _apply_session(_fetch_session(session_id))
        except stripe.StripeError:
            logger.exception("checkout not refreshed", extra={"payment": payment_id})
            continue
        report["refreshed"] += 1
        if outcome is not None and outcome.status == PaymentStatus.FAILED:
            report["abandoned"] += _abandon_pending_passes(payment_id, now)
    # A pass bought by card whose checkout never even started (Stripe unreachable then).
    for payment_id in Payment.objects.filter(
        gateway="stripe",
        status__in=(PaymentStatus.PENDING, PaymentStatus.FAILED),
        checkout_session_id="",
        intent_id="",
        created_at__lte=now - ABANDONED_AFTER,
        invoice__pass_periods__pass_obj__status=PassStatus.PENDING,
    ).values_list("pk", flat=True)[:500]:
        report["abandoned"] += _abandon_pending_passes(payment_id, now)
    report["charged"] = charge_uncharged(gateway=default_gateway(), before=old)
    for refund_id, stripe_refund_id in Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lte=old
    ).values_list("pk", "refund_id")[:500]:
        if not stripe_refund_id:
            refund_submit(refund_id=refund_id)
        else:
            try:
                refund_apply(remote=edge.refund_retrieve(stripe_refund_id), refund_pk=refund_id)
            except stripe.StripeError:
                logger.exception("refund not refreshed", extra={"refund": refund_id})
                continue
        report["refunds"] += 1
    return report


def _abandon_pending_passes(payment_id: int, now: datetime) -> int:
    """A pass bought by card whose payment never came: cancelled, and its invoice cancelled by a credit
    note (an issued invoice is never deleted). Only once the attempt is a day old: the member may come
    back to the page meanwhile."""
    payment = Payment.objects.select_related("invoice__space").get(pk=payment_id)
    if payment.created_at > now - ABANDONED_AFTER:
        return 0
    count = 0
    with transaction.atomic():
        pending = Pass.objects.filter(periods__invoice=payment.invoice, status=PassStatus.PENDING)
        passes = list(pending.select_for_update())
        # Read under the passes' locks: a payment that succeeded meanwhile keeps them.
        if payment.invoice.payments.filter(status=PaymentStatus.SUCCEEDED).exists():
            return 0
        for pass_obj in passes:
            services.pass_transition(pass_obj, PassStatus.CANCELLED)
            Pass.objects.filter(pk=pass_obj.pk).update(auto_renew=False, ended_on=now.date())
            if not payment.invoice.credit_notes.exists():
                services.credit_note_issue(
                    invoice=payment.invoice,
                    today=_today(payment.invoice),
                    reason=_("card payment not completed"),
                )
            count += 1
    return count
