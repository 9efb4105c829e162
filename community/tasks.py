"""The community's scheduled work: the weekly digest (a catch-up: one per member and ISO week, whatever
runs twice) and the sweep of the e-mails still owed. Thin: each calls one service."""

from celery import shared_task
from django.utils import timezone

from community import notifications, services


@shared_task(name="community.send_emails_by_key", acks_late=True, ignore_result=True)
def send_emails_by_key(keys: list[str]) -> int:
    """The fast path after commit; the sweep sends what this could not."""
    return notifications.send_keys(keys)


@shared_task(name="community.send_emails", acks_late=True, ignore_result=True)
def send_emails() -> int:
    return notifications.sweep()


@shared_task(name="community.weekly_digest", acks_late=True, ignore_result=True)
def weekly_digest() -> int:
    return services.digests_record(now=timezone.now())
