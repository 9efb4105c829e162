"""The e-mails billing sends about a pass: payment reminders, the suspension notice and the notice before
an automatic renewal (C. conso L215-1).

Each e-mail is a `billing.models.Notice` row, written by the job in the same transaction as the change
that causes it (billing.dunning), with its subject and text already rendered in the member's language:
the row is both the outbox and the log of what was sent. Sending happens after commit: the job sends the
notices of each chunk itself once the chunk has committed (it already runs in a worker, so no broker is
involved), and the sweep finishes whatever that could not send:

* claim then send: `UPDATE notice SET sent_at = now WHERE id = X AND sent_at IS NULL`; only the caller
  whose update touched the row sends, so the on-commit fast path, the sweep and a second job never send
  the same notice twice. A send that fails (an exception) gives the claim back (sent_at = NULL) and the
  sweep tries again later. The one window left is a process dying between the claim and the hand-off to
  the mail server: that e-mail is lost rather than sent twice (at most once), and its row shows sent_at.
* the sweep (`sweep`, Celery task billing.send_notices every 10 minutes) sends every notice still unsent
  a little after it was recorded: an SMTP error or a crash between commit and sending never loses one.
* a reminder (or a request to confirm a card payment) whose invoice was paid, or a suspension notice
  whose pass is no longer suspended, before it could be sent is dropped instead (deleted while still
  unsent): a member who has just paid is not told they have not.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone, translation

from billing.models import Invoice, InvoiceStatus, Notice, NoticeKind, Pass, PassStatus
from members import selectors as member_selectors

logger = logging.getLogger(__name__)

SWEEP_GRACE = timedelta(minutes=2)  # leave the on-commit fast path time to do its work first
SWEEP_CHUNK = 200
TEMPLATES = {
    NoticeKind.PAYMENT_REMINDER: "billing/email/payment_reminder.txt",
    NoticeKind.SUSPENSION: "billing/email/suspension.txt",
    NoticeKind.RENEWAL_NOTICE: "billing/email/renewal_notice.txt",
    NoticeKind.PAYMENT_ACTION: "billing/email/payment_action.txt",
    NoticeKind.CARD_REMOVED: "billing/email/card_removed.txt",
    NoticeKind.REFUND: "billing/email/refund.txt",
}
SUBJECT_MAX = Notice._meta.get_field("subject").max_length


def build(
    *,
    kind: str,
    key: str,
    subject,
    context: dict,
    pass_obj: Pass | None = None,
    invoice: Invoice | None = None,
    invoice_id: int | None = None,
) -> Notice:
    """An unsaved Notice about `pass_obj`, or about `invoice` alone (a card e-mail may concern no pass),
    rendered in its member's language.

    `subject` is a callable returning the translated subject (it is called with the member's language
    active); `context` is the template's, completed with the pass, its plan, the space, the invoice and
    the member's name."""
    owner = pass_obj if pass_obj is not None else invoice
    user = owner.member
    with translation.override(member_selectors.language_of(user)):
        full_context = {
            "pass": pass_obj,
            "plan": pass_obj.plan if pass_obj is not None else None,
            "space": owner.space,
            "invoice": invoice,
            "name": user.member.name,
            "SITE_URL": settings.SITE_URL,
            **context,
        }
        body = render_to_string(TEMPLATES[kind], full_context)
        title = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + str(subject())
    return Notice(
        pass_obj=pass_obj,
        invoice_id=invoice.pk if invoice is not None else invoice_id,
        kind=kind,
        key=key,
        email=user.email,
        subject=title[:SUBJECT_MAX],
        body=body,
    )


def _drop_if_stale(notice_id: int) -> bool:
    """Deletes an unsent notice whose reason has gone (invoice paid, pass no longer suspended)."""
    row = (
        Notice.objects.filter(pk=notice_id, sent_at__isnull=True)
        .values("kind", "invoice__status", "pass_obj__status")
        .first()
    )
    if row is None:
        return False
    paid_meanwhile = row["invoice__status"] == InvoiceStatus.PAID
    stale = (row["kind"] in (NoticeKind.PAYMENT_REMINDER, NoticeKind.PAYMENT_ACTION) and paid_meanwhile) or (
        row["kind"] == NoticeKind.SUSPENSION and row["pass_obj__status"] != PassStatus.SUSPENDED
    )
    if not stale:
        return False
    deleted, _ = Notice.objects.filter(pk=notice_id, sent_at__isnull=True).delete()
    if deleted:
        logger.info("stale billing notice dropped", extra={"notice_id": notice_id})
    return bool(deleted)


def _claim(notice_id: int, now: datetime) -> bool:
    """One conditional UPDATE: of concurrent callers, exactly one sees it change a row."""
    return bool(Notice.objects.filter(pk=notice_id, sent_at__isnull=True).update(sent_at=now))


def send(notice_id: int, *, now: datetime | None = None) -> bool:
    """Claims the notice and sends it; True if this call sent it. Raises if sending fails (the claim is
    given back first, so the sweep will try again)."""
    if _drop_if_stale(notice_id):
        return False
    if not _claim(notice_id, now or timezone.now()):
        return False  # already sent, or being sent, by someone else
    notice = Notice.objects.select_related("pass_obj__space", "invoice__space").get(pk=notice_id)
    # The card e-mails may be about no pass (a card removed): the invoice's space, or none, answers.
    space = notice.pass_obj.space if notice.pass_obj else (notice.invoice.space if notice.invoice else None)
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        to=[notice.email],
        reply_to=[space.email] if space and space.email else None,
    )
    try:
        message.send()
    except Exception:
        Notice.objects.filter(pk=notice_id).update(sent_at=None)
        raise
    return True


def send_many(notice_ids: list[int]) -> int:
    """Sends what it can claim; a failure is logged and left to the sweep. Returns how many were sent."""
    sent = 0
    for notice_id in notice_ids:
        try:
            sent += send(notice_id)
        except Exception:
            logger.exception("billing e-mail failed, the sweep will retry", extra={"notice_id": notice_id})
    return sent


def sweep(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE) -> int:
    """Sends every notice still unsent that was recorded more than `grace` ago: catch-up, safe to run
    twice or concurrently (each notice is claimed before it is sent). Returns how many were sent."""
    now = now or timezone.now()
    after, sent = 0, 0
    while True:
        ids = list(
            Notice.objects.filter(sent_at__isnull=True, created_at__lte=now - grace, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_CHUNK]
        )
        if not ids:
            return sent
        after = ids[-1]
        sent += send_many(ids)
