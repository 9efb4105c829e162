"""The Stripe edge: the only module that talks to Stripe, through the official SDK's StripeClient.

Amounts cross this edge in minor units (billing.money.to_minor_units / from_minor_units) and nowhere
else. Every call that creates something carries an idempotency key derived from what it is for (a
payment attempt, a refund, a member's customer), so a retried job, a double click or a crash between
the call and our commit never creates a second charge, refund or customer at Stripe.

Models never import this module (tests/test_architecture.py); the card services (billing.cards) and
the gateway below do.
"""

import contextlib
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import stripe
from django.conf import settings

from billing.gateways import ChargeRequest, ChargeResult
from billing.money import from_minor_units, to_minor_units


def enabled() -> bool:
    return bool(settings.STRIPE_ENABLED)


@cache
def _client(api_key: str, api_base: str, retries: int) -> stripe.StripeClient:
    addresses = {"api": api_base} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=addresses, max_network_retries=retries)


def client() -> stripe.StripeClient:
    """One client per configuration (the SDK's client is thread-safe and keeps its connections)."""
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_MAX_NETWORK_RETRIES)


def minor(amount: Decimal, currency: str) -> int:
    return to_minor_units(amount, currency.upper())


def major(units: int, currency: str) -> Decimal:
    return from_minor_units(int(units), currency.upper())


def checkout_locale(language: str) -> str:
    # Checkout's own list of locales has both of ours; anything else lets Stripe pick from the browser.
    return language if language in {"fr", "en", "nl", "de"} else "auto"


@dataclass(frozen=True)
class IntentState:
    """What the application needs of a PaymentIntent, read back from Stripe."""

    id: str
    status: str  # requires_payment_method, requires_action, processing, succeeded, canceled...
    amount_received: Decimal
    currency: str
    payment_method: str

    @property
    def payment_status(self) -> str:
        """The billing.models.PaymentStatus this state maps to."""
        if self.status == "succeeded":
            return "succeeded"
        if self.status in ("requires_action", "requires_confirmation"):
            return "action_required"
        if self.status in ("processing", "requires_capture"):
            return "pending"
        return "failed"  # requires_payment_method (declined), canceled


def intent_state(intent) -> IntentState:
    payment_method = intent.get("payment_method") or ""
    if not isinstance(payment_method, str):
        payment_method = payment_method.get("id", "")
    return IntentState(
        id=intent["id"],
        status=intent["status"],
        amount_received=major(intent.get("amount_received") or 0, intent["currency"]),
        currency=intent["currency"].upper(),
        payment_method=payment_method,
    )


def retrieve_intent(intent_id: str) -> IntentState:
    return intent_state(client().v1.payment_intents.retrieve(intent_id))


def cancel_intent(intent_id: str) -> None:
    # Already succeeded or cancelled: the state the caller re-reads is what counts.
    with contextlib.suppress(stripe.InvalidRequestError):
        client().v1.payment_intents.cancel(intent_id)


def charge_off_session(
    *, customer_id: str, payment_method_id: str, amount: Decimal, currency: str, key: str, metadata: dict
) -> IntentState:
    """Charges a saved card without the member (a renewal). A decline or an authentication request
    comes back as a state (failed / action_required), not an exception; a network or server error
    raises (the attempt stays pending and is retried with the same key)."""
    try:
        intent = client().v1.payment_intents.create(
            params={
                "amount": minor(amount, currency),
                "currency": currency.lower(),
                "customer": customer_id,
                "payment_method": payment_method_id,
                "off_session": True,
                "confirm": True,
                "metadata": metadata,
            },
            options={"idempotency_key": key},
        )
    except stripe.CardError as error:
        # Stripe answers 402 with the PaymentIntent in the error: its id and state are what we keep.
        body = error.json_body or {}
        intent = (body.get("error") or {}).get("payment_intent")
        if not intent:
            raise
        return intent_state(intent)
    return intent_state(intent)


def customer_create(
    *, key: str, email: str, name: str, address: str, country: str, vat_number: str, member_id: int
):
    params: dict = {
        "email": email,
        "name": name,
        "metadata": {"member_id": str(member_id)},
        "preferred_locales": [],
    }
    if address or country:
        lines = [line.strip() for line in address.splitlines() if line.strip()]
        params["address"] = {"line1": lines[0] if lines else "", "country": country or ""}
        if len(lines) > 1:
            params["address"]["line2"] = " ".join(lines[1:])[:200]
    if vat_number:
        params["tax_id_data"] = [{"type": "eu_vat", "value": vat_number}]
    return client().v1.customers.create(params=params, options={"idempotency_key": key})


def customer_update(*, customer_id: str, email: str, name: str, address: str, country: str) -> None:
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    params: dict = {"email": email, "name": name}
    if lines or country:
        params["address"] = {"line1": lines[0] if lines else "", "country": country or ""}
    client().v1.customers.update(customer_id, params=params)


def checkout_payment_create(
    *,
    key: str,
    customer_id: str,
    amount: Decimal,
    currency: str,
    description: str,
    language: str,
    success_url: str,
    cancel_url: str,
    metadata: dict,
):
    """A Checkout Session that takes the payment and saves the card for off-session renewals."""
    return client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "customer": customer_id,
            "client_reference_id": metadata.get("payment_id", ""),
            "locale": checkout_locale(language),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": minor(amount, currency),
                        "product_data": {"name": description[:250]},
                    },
                }
            ],
            "payment_method_types": ["card"],
            "payment_intent_data": {"setup_future_usage": "off_session", "metadata": metadata},
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": key},
    )


def checkout_setup_create(
    *, key: str, customer_id: str, language: str, success_url: str, cancel_url: str, metadata: dict
):
    """A Checkout Session in setup mode: a SetupIntent that saves a new card, charging nothing."""
    return client().v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer_id,
            "currency": "eur",
            "locale": checkout_locale(language),
            "payment_method_types": ["card"],
            "setup_intent_data": {"metadata": metadata},
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": key},
    )


def checkout_retrieve(session_id: str):
    return client().v1.checkout.sessions.retrieve(session_id)


def setup_intent_retrieve(setup_intent_id: str):
    return client().v1.setup_intents.retrieve(setup_intent_id)


def payment_method_retrieve(payment_method_id: str):
    return client().v1.payment_methods.retrieve(payment_method_id)


def payment_method_detach(payment_method_id: str) -> None:
    # Already detached (from Stripe's dashboard, or by a previous attempt): nothing left to do.
    with contextlib.suppress(stripe.InvalidRequestError):
        client().v1.payment_methods.detach(payment_method_id)


def refund_create(*, intent_id: str, amount: Decimal, currency: str, key: str, metadata: dict):
    return client().v1.refunds.create(
        params={"payment_intent": intent_id, "amount": minor(amount, currency), "metadata": metadata},
        options={"idempotency_key": key},
    )


def refund_retrieve(refund_id: str):
    return client().v1.refunds.retrieve(refund_id)


SIGNATURE_TOLERANCE = 300  # seconds, Stripe's own default


def construct_event(payload: bytes, signature: str, *, now: float | None = None):
    """Verifies the signature and its age (at most 300 s, either way: the SDK lets a timestamp from the
    future through, which a replayed body signed with a skewed clock would use) and parses the event;
    raises ValueError or stripe.SignatureVerificationError otherwise."""
    event = stripe.Webhook.construct_event(
        payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=SIGNATURE_TOLERANCE
    )
    stamps = [item[2:] for item in signature.split(",") if item.startswith("t=")]
    moment = time.time() if now is None else now
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > moment + SIGNATURE_TOLERANCE:
        raise stripe.SignatureVerificationError("Timestamp outside the tolerance zone", signature, payload)
    return event


class StripeGateway:
    """Charges the member's saved card off-session, one PaymentIntent per request, keyed by the
    request's idempotency key (a renewal's: pass and period start). A member without a saved card is
    not charged: the attempt stays pending (owed, like the offline gateway's) until they pay online."""

    name = "stripe"

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        from billing import cards  # the card services read the members' saved cards

        results = []
        for request in requests:
            account = cards.saved_card(member_id=request.member_id)
            if account is None:
                results.append(ChargeResult(status="pending", method="card"))
                continue
            try:
                state = charge_off_session(
                    customer_id=account.customer_id,
                    payment_method_id=account.payment_method_id,
                    amount=request.amount,
                    currency=request.currency,
                    key=request.idempotency_key,
                    metadata={"invoice_id": str(request.invoice_id), "key": request.idempotency_key},
                )
            except stripe.StripeError:
                # Network, rate limit or Stripe's own error: still pending, retried with the same key.
                results.append(ChargeResult(status="pending", method="card"))
                continue
            results.append(
                ChargeResult(
                    status=state.payment_status,
                    method="card",
                    reference=state.id,
                    intent_id=state.id,
                )
            )
        return results
