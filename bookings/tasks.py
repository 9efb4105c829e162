"""Booking e-mails. The booking row records that an e-mail is owed (in the same transaction as the
change); these tasks claim that flag with a conditional update, send, and give the claim back if sending
fails, so an e-mail is sent once even when the fast path and the sweep both run. The fast path is one
flush of everything owed, queued after commit unless one is already waiting (enqueue_flush)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from bookings import notifications
from bookings.models import Booking, BookingStatus

logger = logging.getLogger(__name__)
SWEEP_GRACE = timedelta(minutes=2)  # leave the on-commit fast path time to do its work first
SWEEP_CHUNK = 200
SWEEP_CHUNKS = 10  # per kind and run: 2,000 e-mails


# Set while a flush of the owed e-mails is queued and has not started (see enqueue_flush).
FLUSH_QUEUED_KEY = "bookings:notifications:flush-queued"
FLUSH_QUEUED_TIMEOUT = 300  # a lost message delays e-mails by this at most (then the sweep catches up)


def enqueue_flush() -> None:
    """After the commit of a booking or cancellation that owes an e-mail: make sure a flush is queued.

    While one is queued and has not started, it will see this booking's flag: the flush clears the mark
    before it reads the flags, and this runs after the booking committed. So a mark already set means
    nothing more to publish, and under load one message carries the e-mails of every booking made while
    it waited. A broker outage is logged, not raised: the sweep will catch up."""
    try:
        if not cache.add(FLUSH_QUEUED_KEY, True, FLUSH_QUEUED_TIMEOUT):
            return
        send_owed_notifications.delay()
    except Exception:
        logger.warning("broker unavailable, the sweep will send the e-mails owed", exc_info=True)
        try:
            cache.delete(FLUSH_QUEUED_KEY)  # the next booking tries again
        except Exception:
            logger.warning("cache unavailable", exc_info=True)


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


def _send_owed(*, created_before=None) -> tuple[int, bool]:
    """Send the e-mails still owed, up to SWEEP_CHUNKS chunks per kind, in id order from where the last
    chunk ended: rows that keep failing (an address the server refuses) never hold back newer ones.
    Returns (sent, whether some were left for another run)."""
    sent, left = 0, False
    for flag, send, status in (
        ("confirmation_pending", notifications.send_confirmation, BookingStatus.CONFIRMED),
        ("cancellation_notice_pending", notifications.send_cancellation, None),
    ):
        owed = Booking.objects.filter(**{flag: True})
        if created_before is not None:
            owed = owed.filter(created_at__lt=created_before)
        after = 0
        for _chunk in range(SWEEP_CHUNKS):
            ids = list(owed.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:SWEEP_CHUNK])
            for booking_id in ids:
                try:
                    sent += _claim_and_send(booking_id, flag=flag, send=send, status=status)
                except Exception:
                    logger.exception("booking e-mail failed", extra={"booking_id": booking_id})
            if len(ids) < SWEEP_CHUNK:
                break
            after = ids[-1]
        else:
            left = True
    return sent, left


@shared_task(name="bookings.send_owed_notifications")
def send_owed_notifications() -> int:
    """The fast path: the confirmations and cancellation notices owed now, right after their commits."""
    cache.delete(FLUSH_QUEUED_KEY)  # first: a booking committed from here on queues another flush
    sent, left = _send_owed()
    if left and sent:
        # More were waiting than one run sends, and sending works: the rest in a message of its own.
        # (Nothing sent means the mail server is failing: the sweep retries, without a storm of flushes.)
        enqueue_flush()
    return sent


@shared_task(name="bookings.sweep_notifications")
def sweep_notifications() -> int:
    """Send every e-mail still owed (a broker outage, a worker that died): catch-up, safe to run twice."""
    return _send_owed(created_before=timezone.now() - SWEEP_GRACE)[0]


# Messages queued by the release before send_owed_notifications may still be in the broker when it is
# deployed: these tasks keep consuming them (the claim makes them safe to run beside a flush).
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
