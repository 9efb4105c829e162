"""Scheduled billing work. The renewal and dunning jobs are idempotent and catch-up ("everything due up to
now that is not done yet"): beat runs them hourly in UTC; a missed, doubled or crashed run is harmless (see
billing.services.renew_due_passes and billing.dunning). The sweep sends the billing e-mails still owed."""

import logging

from celery import shared_task
from django.utils import timezone

from billing import dunning, notifications, services

logger = logging.getLogger(__name__)


@shared_task(name="billing.renew_passes", acks_late=True, ignore_result=True)
def renew_passes() -> dict:
    report = services.renew_due_passes(now=timezone.now())
    logger.info(
        "renewal run",
        extra={"renewed": report.renewed, "expired": report.expired, "examined": report.examined},
    )
    return {"renewed": report.renewed, "expired": report.expired}


@shared_task(name="billing.dunning", acks_late=True, ignore_result=True)
def run_dunning() -> dict:
    """Past due, payment reminders, suspensions, restorations and renewal notices (billing.dunning)."""
    return dunning.run(timezone.now()).as_dict()


@shared_task(name="billing.send_notices", acks_late=True, ignore_result=True)
def send_notices() -> int:
    """The sweep: sends every billing e-mail still owed (broker outage, SMTP error, crashed worker)."""
    return notifications.sweep()


@shared_task(name="billing.card_payments_sweep", acks_late=True, ignore_result=True)
def card_payments_sweep() -> dict:
    """Card payments never stay pending: re-reads the open PaymentIntents and Checkout Sessions from
    Stripe, makes the charges and refunds still owed, closes abandoned checkouts (billing.cards.sweep)."""
    from billing import cards

    return cards.sweep()
