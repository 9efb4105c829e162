"""Booking e-mails. The booking row records that an e-mail is owed (in the same transaction as the
change); these tasks claim that flag with a conditional update, send, and give the claim back if sending
fails, so an e-mail is sent once even when the fast path and the sweep both run."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from bookings import notifications
from bookings.models import Booking, BookingStatus

logger = logging.getLogger(__name__)
SWEEP_GRACE = timedelta(minutes=2)  # leave the on-commit fast path time to do its work first
SWEEP_CHUNK = 200


def enqueue(task, booking_id: int) -> None:
    """Send a task after commit; a broker outage is logged, not raised: the sweep will catch up."""
    try:
        task.delay(booking_id)
    except Exception:
        logger.warning(
            "broker unavailable, the sweep will send it", extra={"booking_id": booking_id}, exc_info=True
        )


def _claim_and_send(booking_id: int, *, flag: str, send, status: str | None) -> bool:
    claimed = Booking.objects.filter(pk=booking_id, **{flag: True}).update(**{flag: False})
    if not claimed:
        return False
    booking = Booking.objects.select_related("member__member", "resource", "space").get(pk=booking_id)
    if status and booking.status != status:
        return False  # cancelled before its confirmation went out: the cancellation notice says it all
    try:
        send(booking)
    except Exception:
        Booking.objects.filter(pk=booking_id).update(**{flag: True})
        raise
    return True


@shared_task(
    name="bookings.send_booking_confirmation", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_booking_confirmation(booking_id: int) -> bool:
    return _claim_and_send(
        booking_id,
        flag="confirmation_pending",
        send=notifications.send_confirmation,
        status=BookingStatus.CONFIRMED,
    )


@shared_task(
    name="bookings.send_cancellation_notice", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_cancellation_notice(booking_id: int) -> bool:
    return _claim_and_send(
        booking_id, flag="cancellation_notice_pending", send=notifications.send_cancellation, status=None
    )


@shared_task(name="bookings.sweep_notifications")
def sweep_notifications() -> int:
    """Send every e-mail still owed (a broker outage, a worker that died): catch-up, safe to run twice."""
    before = timezone.now() - SWEEP_GRACE
    sent = 0
    for flag, send, status in (
        ("confirmation_pending", notifications.send_confirmation, BookingStatus.CONFIRMED),
        ("cancellation_notice_pending", notifications.send_cancellation, None),
    ):
        ids = list(
            Booking.objects.filter(**{flag: True}, created_at__lt=before).values_list("pk", flat=True)[
                :SWEEP_CHUNK
            ]
        )
        for booking_id in ids:
            try:
                sent += _claim_and_send(booking_id, flag=flag, send=send, status=status)
            except Exception:
                logger.exception("booking e-mail failed", extra={"booking_id": booking_id})
    return sent
