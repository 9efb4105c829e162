"""The community's e-mails through an outbox (community.models.CommunityEmail), as billing's notices do:

* record: the row is written in the same transaction as its cause under a unique key (INSERT ... ON
  CONFLICT DO NOTHING), so a cause recorded twice (a job run twice, a double click) owes one e-mail;
* fast path: after commit a task sends the rows just recorded (a broker outage is logged, not raised);
* claim then send: `UPDATE ... SET sent_at = now WHERE id = X AND sent_at IS NULL`; only the caller whose
  update touched the row sends; a failed send gives the claim back for the sweep;
* sweep: the periodic task (community.send_emails) sends whatever is still unsent a little after it was
  recorded, so nothing a committed action owes is lost.

Digests and skill alerts carry a one-click unsubscribe link (a signed token, no login) in their text and
in the List-Unsubscribe headers (RFC 2369 and RFC 8058).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from community.models import CommunityEmail
from members import selectors as member_selectors

logger = logging.getLogger(__name__)

SWEEP_GRACE = timedelta(minutes=2)
SWEEP_CHUNK = 200
SUBJECT_MAX = CommunityEmail._meta.get_field("subject").max_length
UNSUBSCRIBE_SALT = "community.unsubscribe"


def unsubscribe_token(*, user_id: int, what: str) -> str:
    """`what` is "digest" or "alert:<id>". Signed with SECRET_KEY: it cannot be forged for someone else."""
    return signing.dumps({"u": user_id, "w": what}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("w"), str):
        return None
    return data["u"], data["w"]


def unsubscribe_url(*, user_id: int, what: str) -> str:
    return settings.SITE_URL + reverse(
        "community:unsubscribe", args=[unsubscribe_token(user_id=user_id, what=what)]
    )


def build(
    *,
    user,
    kind: str,
    key: str,
    subject,
    template: str,
    context: dict,
    reply_to: str = "",
    unsubscribe: str = "",
) -> CommunityEmail:
    """An unsaved e-mail to `user`, rendered in their language; `subject` is a callable called with that
    language active; `unsubscribe` is "" or what the one-click link stops."""
    url = unsubscribe_url(user_id=user.pk, what=unsubscribe) if unsubscribe else ""
    with translation.override(member_selectors.language_of(user)):
        body = render_to_string(
            template,
            {"name": user.member.name, "SITE_URL": settings.SITE_URL, "unsubscribe_url": url, **context},
        )
        title = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + str(subject())
    return CommunityEmail(
        kind=kind,
        key=key[:160],
        user=user,
        email=user.email,
        subject=title[:SUBJECT_MAX],
        body=body,
        reply_to=reply_to,
        unsubscribe_url=url,
    )


def record(emails: list[CommunityEmail]) -> list[str]:
    """Writes the e-mails owed (in the caller's transaction; a key already there is skipped) and sends
    them once it commits. Returns their keys."""
    if not emails:
        return []
    CommunityEmail.objects.bulk_create(emails, ignore_conflicts=True)
    keys = [email.key for email in emails]
    transaction.on_commit(lambda: enqueue(keys))
    return keys


def enqueue(keys: list[str]) -> None:
    from community import tasks

    try:
        tasks.send_emails_by_key.delay(keys)
    except Exception:
        logger.warning(
            "broker unavailable, the sweep will send them", extra={"count": len(keys)}, exc_info=True
        )


def _claim(email_id: int, now: datetime) -> bool:
    return bool(CommunityEmail.objects.filter(pk=email_id, sent_at__isnull=True).update(sent_at=now))


def send(email_id: int, *, now: datetime | None = None) -> bool:
    """Claims the e-mail and sends it; True if this call sent it. A failure gives the claim back."""
    if not _claim(email_id, now or timezone.now()):
        return False
    row = CommunityEmail.objects.get(pk=email_id)
    headers = {}
    if row.unsubscribe_url:
        headers = {
            "List-Unsubscribe": f"<{row.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    message = EmailMessage(
        subject=row.subject,
        body=row.body,
        to=[row.email],
        reply_to=[row.reply_to] if row.reply_to else None,
        headers=headers,
    )
    try:
        message.send()
    except Exception:
        CommunityEmail.objects.filter(pk=email_id).update(sent_at=None)
        raise
    return True


def send_many(email_ids: list[int]) -> int:
    sent = 0
    for email_id in email_ids:
        try:
            sent += send(email_id)
        except Exception:
            logger.exception("community e-mail failed, the sweep will retry", extra={"email_id": email_id})
    return sent


def send_keys(keys: list[str]) -> int:
    ids = list(
        CommunityEmail.objects.filter(key__in=keys, sent_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return send_many(ids)


def sweep(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE) -> int:
    """Sends every e-mail still unsent recorded more than `grace` ago; safe to run twice or concurrently."""
    now = now or timezone.now()
    after, sent = 0, 0
    while True:
        ids = list(
            CommunityEmail.objects.filter(sent_at__isnull=True, created_at__lte=now - grace, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_CHUNK]
        )
        if not ids:
            return sent
        after = ids[-1]
        sent += send_many(ids)
