"""Payment gateways: the one interface the billing services charge through.

The offline gateway is the default (no card provider configured): it records what is owed as a pending
payment, to be settled at the desk or by bank transfer and recorded by a manager
(billing.services.payment_record). Card payments come with the Stripe gateway, behind the same
interface. Every attempt carries an idempotency key built from what it pays for (for a renewal:
pass and period start), so a retried job never charges twice.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class ChargeRequest:
    invoice_id: int
    amount: Decimal
    currency: str
    member_id: int
    idempotency_key: str


@dataclass(frozen=True)
class ChargeResult:
    status: str  # a billing.models.PaymentStatus value
    method: str  # a billing.models.PaymentMethod value
    reference: str = ""
    intent_id: str = ""  # the card provider's payment (Stripe's PaymentIntent), if one was made


class Gateway(Protocol):
    name: str

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        """One result per request, in order. Must be safe to call again with the same keys."""


class OfflineGateway:
    """Nothing is charged: the amount is owed, pending until a manager records the payment."""

    name = "offline"

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        return [ChargeResult(status="pending", method="offline") for _ in requests]


_OFFLINE = OfflineGateway()


def default_gateway() -> Gateway:
    """The Stripe gateway when its keys are configured, else the offline one."""
    from django.conf import settings

    if settings.STRIPE_ENABLED:
        from billing.stripe_gateway import StripeGateway

        return StripeGateway()
    return _OFFLINE
