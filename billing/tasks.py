"""Scheduled billing work. The renewal job is idempotent and catch-up ("everything due up to now that is
not done yet"): beat runs it hourly in UTC; a missed, doubled or crashed run is harmless (see
billing.services.renew_due_passes)."""

import logging

from celery import shared_task
from django.utils import timezone

from billing import services

logger = logging.getLogger(__name__)


@shared_task(name="billing.renew_passes", acks_late=True, ignore_result=True)
def renew_passes() -> dict:
    report = services.renew_due_passes(now=timezone.now())
    logger.info(
        "renewal run",
        extra={"renewed": report.renewed, "expired": report.expired, "examined": report.examined},
    )
    return {"renewed": report.renewed, "expired": report.expired}
