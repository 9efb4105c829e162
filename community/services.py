"""Writes of the community. Views, forms, the admin, tasks and coworking's wiring call these, nothing else.
Every refusal a member can cause is a CommunityError with a message for them (the view shows it), never
a 500."""

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from community import notifications, selectors
from community.models import (
    CommunityProfile,
    EmailKind,
    Event,
    EventStatus,
    Post,
    PostMessage,
    PostReport,
    PostStatus,
    ProposalVote,
    Rsvp,
    RsvpStatus,
    SkillAlert,
    TalkProposal,
    Thanks,
)
from members import selectors as member_selectors
from members import services as member_services
from members.models import User
from spaces.models import Space

logger = logging.getLogger(__name__)

POST_MAX_DAYS = 90
DIGEST_CHUNK = 200
VISIBILITY_FIELDS = (
    "show_photo",
    "show_profession",
    "show_skills",
    "show_bio",
    "show_company",
    "show_website",
    "show_spaces",
)


class CommunityError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def manages(user: User, space_id: int) -> bool:
    if not user.is_authenticated or not user.is_staff:
        return False
    space_ids = member_selectors.managed_space_ids(user=user)
    return space_ids is None or space_id in space_ids


# --- profile and alerts ------------------------------------------------------------------------------


def profile_for(*, user: User) -> CommunityProfile:
    profile, _created = CommunityProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def community_profile_update(*, user: User, data: dict, spaces: Iterable | None = None) -> CommunityProfile:
    profile = profile_for(user=user)
    for field in (*VISIBILITY_FIELDS, "digest_enabled"):
        if field in data:
            setattr(profile, field, bool(data[field]))
    profile.save()
    if spaces is not None:
        profile.spaces.set(spaces)
    return profile


def skill_alert_create(*, user: User, skill_name: str, space=None) -> SkillAlert:
    skills = member_services.skills_get_or_create(names=[skill_name])
    if not skills:
        raise CommunityError(_("Name a skill."))
    alert, _created = SkillAlert.objects.get_or_create(user=user, skill=skills[0], space=space)
    return alert


def skill_alert_delete(*, user: User, alert_id: int) -> bool:
    deleted, _ = SkillAlert.objects.filter(pk=alert_id, user=user).delete()
    return bool(deleted)


def unsubscribe(*, user_id: int, what: str) -> bool:
    """One click from an e-mail: stops the weekly digest, or one skill alert. Idempotent."""
    if what == "digest":
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return False
        profile = profile_for(user=user)
        if profile.digest_enabled:
            profile.digest_enabled = False
            profile.save(update_fields=["digest_enabled", "updated_at"])
        return True
    if what.startswith("alert:") and what[6:].isdigit():
        SkillAlert.objects.filter(pk=int(what[6:]), user_id=user_id).delete()
        return True
    return False


def skill_alerts_on_booking(*, user_id: int, space_id: int, day: date) -> list[str]:
    """A member booked a day at a space: the members who asked to hear of someone with one of their skills
    there are owed an e-mail. Called inside the booking's transaction (coworking wires it to bookings), so
    the e-mails owed commit with the booking; one per (alert, booker, day), whatever happens twice. Only a
    member in the directory who shows their skills is announced. The alerts are read first: on most
    bookings there are none, and that one query is all the booking pays."""
    alerts = list(
        SkillAlert.objects.filter(skill__members__user_id=user_id, user__is_active=True)
        .filter(Q(space_id=space_id) | Q(space__isnull=True))
        .exclude(user_id=user_id)
        .select_related("user__member", "skill")
        .order_by("pk")
    )
    if not alerts:
        return []
    booker = (
        selectors.directory_members()
        .select_related("user__community_profile")
        .filter(user_id=user_id)
        .first()
    )
    profile = selectors.profile_of(booker) if booker is not None else None
    if booker is None or not profile.show_skills:
        return []
    space = Space.objects.get(pk=space_id)
    profession = booker.profession if profile.show_profession else ""
    emails = [
        notifications.build(
            user=alert.user,
            kind=EmailKind.SKILL_ALERT,
            key=f"alert:{alert.pk}:{user_id}:{day.isoformat()}",
            subject=lambda alert=alert: (
                gettext("%(skill)s at %(space)s on %(day)s")
                % {"skill": alert.skill.name, "space": space.name, "day": day.strftime("%d/%m")}
            ),
            template="community/email/skill_alert.txt",
            context={
                "skill": alert.skill,
                "space": space,
                "day": day,
                "booker_name": booker.name,
                "profession": profession,
                "booker_id": booker.pk,
            },
            unsubscribe=f"alert:{alert.pk}",
        )
        for alert in alerts
    ]
    return notifications.record(emails)


# --- requests and offers -----------------------------------------------------------------------------


def _check_expiry(expires_on: date, today: date) -> None:
    if expires_on < today:
        raise CommunityError(_("The expiry date is in the past."))
    if expires_on > today + timedelta(days=POST_MAX_DAYS):
        raise CommunityError(_("A post lasts at most 90 days."))


@transaction.atomic
def post_create(
    *,
    author: User,
    kind: str,
    title: str,
    body: str,
    skill_names: Iterable[str],
    space,
    expires_on: date,
    today: date,
) -> Post:
    _check_expiry(expires_on, today)
    post = Post(author=author, kind=kind, title=title, body=body, space=space, expires_on=expires_on)
    post.full_clean(exclude=["skills"])
    post.save()
    post.skills.set(member_services.skills_get_or_create(names=skill_names))
    return post


@transaction.atomic
def post_message(*, post: Post, sender: User, body: str) -> PostMessage:
    """An answer, sent to the author by e-mail with the sender's address to reply to: the author's own
    address is never shown to the sender."""
    if post.author_id == sender.pk:
        raise CommunityError(_("This is your own post."))
    if post.status != PostStatus.OPEN or post.hidden:
        raise CommunityError(_("This post no longer takes answers."))
    body = body.strip()
    if not body:
        raise CommunityError(_("Write a message."))
    message = PostMessage.objects.create(post=post, sender=sender, body=body)
    author = post.author
    sender_name = sender.member.name
    notifications.record(
        [
            notifications.build(
                user=author,
                kind=EmailKind.POST_MESSAGE,
                key=f"message:{message.pk}",
                subject=lambda: (
                    gettext("%(name)s answered “%(title)s”") % {"name": sender_name, "title": post.title}
                ),
                template="community/email/post_message.txt",
                context={"post": post, "sender_name": sender_name, "message": message},
                reply_to=sender.email,
            )
        ]
    )
    return message


@transaction.atomic
def post_fulfil(*, post: Post, by: User, helper_ids: Iterable[int], now: datetime) -> Post:
    """The author closes their post and thanks who helped (only members who answered it)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.author_id != by.pk:
        raise CommunityError(_("Only the author can mark a post fulfilled."))
    if post.status == PostStatus.OPEN:
        post.status = PostStatus.FULFILLED
        post.fulfilled_at = now
        post.save(update_fields=["status", "fulfilled_at"])
    answered = set(post.messages.values_list("sender_id", flat=True))
    for helper_id in set(helper_ids) & answered:
        if helper_id != by.pk:
            Thanks.objects.get_or_create(post=post, helper_id=helper_id)
    return post


def post_report(*, post: Post, reporter: User, reason: str) -> PostReport:
    reason = reason.strip()
    if not reason:
        raise CommunityError(_("Say what is wrong with this post."))
    report, _created = PostReport.objects.get_or_create(
        post=post, reporter=reporter, defaults={"reason": reason[:300]}
    )
    return report


def post_set_hidden(*, post: Post, hidden: bool, by: User) -> Post:
    """A manager's moderation (from the admin), written to the audit log."""
    if post.hidden != hidden:
        post.hidden = hidden
        post.save(update_fields=["hidden"])
        member_services.audit_record(
            actor=by,
            action="community.post_hide" if hidden else "community.post_show",
            target=post,
            space_id=post.space_id,
            after={"hidden": hidden},
        )
    return post


def digests_record(*, now: datetime) -> int:
    """The weekly digest: to each member who has skills and has not unsubscribed, the posts of the last
    7 days that ask for or offer one of their skills, on the network's board or a space they use. One
    e-mail per member and ISO week (its key), so a second run, or a run after a crash, sends nothing
    twice. Chunked: each chunk of members commits on its own. Returns how many were recorded."""
    year, week, _weekday = now.isocalendar()
    today = timezone.localdate(now)
    recent = list(
        Post.objects.visible(today=today)
        .filter(created_at__gte=now - timedelta(days=7))
        .prefetch_related("skills")
        .order_by("-created_at")
    )
    if not recent:
        return 0
    skill_ids_of_post = {post.pk: {skill.pk for skill in post.skills.all()} for post in recent}
    wanted_skill_ids = set().union(*skill_ids_of_post.values())
    opted_out = CommunityProfile.objects.filter(digest_enabled=False).values("user_id")
    users = (
        User.objects.filter(
            is_active=True, member__erased_at__isnull=True, member__skills__in=wanted_skill_ids
        )
        .exclude(pk__in=opted_out)
        .distinct()
        .order_by("pk")
    )
    recorded, after = 0, 0
    while True:
        chunk = list(users.filter(pk__gt=after).select_related("member")[:DIGEST_CHUNK])
        if not chunk:
            return recorded
        after = chunk[-1].pk
        skills_of = selectors.skill_ids_of(user_ids=[user.pk for user in chunk])
        spaces_of = selectors.chosen_space_ids_of(user_ids=[user.pk for user in chunk])
        emails = []
        for user in chunk:
            mine = skills_of.get(user.pk, set())
            spaces = spaces_of.get(user.pk)
            posts = [
                post
                for post in recent
                if post.author_id != user.pk
                and mine & skill_ids_of_post[post.pk]
                and (post.space_id is None or not spaces or post.space_id in spaces)
            ]
            if not posts:
                continue
            emails.append(
                notifications.build(
                    user=user,
                    kind=EmailKind.DIGEST,
                    key=f"digest:{user.pk}:{year}-W{week:02d}",
                    subject=lambda: gettext("This week's requests and offers for you"),
                    template="community/email/digest.txt",
                    context={"posts": posts},
                    unsubscribe="digest",
                )
            )
        with transaction.atomic():
            notifications.record(emails)
        recorded += len(emails)


# --- events ------------------------------------------------------------------------------------------


@transaction.atomic
def event_create(*, by: User, space, data: dict, now: datetime) -> Event:
    """A manager's event is approved at once; a member's waits for a manager of the space."""
    event = Event(space=space, created_by=by, **data)
    if event.start is not None and event.start < now:
        raise CommunityError(_("The event starts in the past."))
    if manages(by, space.pk):
        event.status = EventStatus.APPROVED
        event.approved_by = by
        event.approved_at = now
    event.full_clean()
    event.save()
    return event


def _event_decided_email(event: Event) -> None:
    if event.created_by_id is None:
        return
    creator = User.objects.select_related("member").get(pk=event.created_by_id)
    if manages(creator, event.space_id):
        return
    notifications.record(
        [
            notifications.build(
                user=creator,
                kind=EmailKind.EVENT_DECIDED,
                key=f"event-decided:{event.pk}:{event.status}",
                subject=lambda: (
                    gettext("Your event “%(title)s”: %(status)s")
                    % {"title": event.title, "status": event.get_status_display()}
                ),
                template="community/email/event_decided.txt",
                context={"event": event},
            )
        ]
    )


@transaction.atomic
def event_decide(*, event: Event, by: User, approve: bool, now: datetime) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not manages(by, event.space_id):
        raise CommunityError(_("Only a manager of the space can approve its events."))
    if event.status != EventStatus.PENDING:
        return event
    event.status = EventStatus.APPROVED if approve else EventStatus.REJECTED
    event.approved_by = by
    event.approved_at = now
    event.save(update_fields=["status", "approved_by", "approved_at"])
    member_services.audit_record(
        actor=by,
        action="community.event_approve" if approve else "community.event_reject",
        target=event,
        space_id=event.space_id,
        after={"status": event.status},
    )
    _event_decided_email(event)
    return event


def _lock_event(event_id: int) -> Event:
    """The event's row, locked until the transaction ends: RSVPs to one event are serialised, so the
    count of seats taken that follows is true when the new one is written (PostgreSQL; on SQLite the
    IMMEDIATE transaction already holds the database's write lock)."""
    return Event.objects.select_for_update().get(pk=event_id)


def _seats_taken(event_id: int) -> int:
    return Rsvp.objects.filter(event_id=event_id, status=RsvpStatus.GOING).count()


def _check_open_for_rsvp(event: Event, now: datetime) -> None:
    if event.status != EventStatus.APPROVED:
        raise CommunityError(_("This event is not open for registration."))
    if event.start <= now:
        raise CommunityError(_("This event has already started."))


@transaction.atomic
def rsvp(*, event: Event, user: User, now: datetime) -> Rsvp:
    """A seat if one is free, else a place on the waiting list. Never more than `capacity` seats, even
    when many members answer at the same moment (lock, count, write)."""
    event = _lock_event(event.pk)
    _check_open_for_rsvp(event, now)
    existing = Rsvp.objects.filter(event=event, user=user).first()
    if existing is not None and existing.status != RsvpStatus.CANCELLED:
        return existing
    status = RsvpStatus.GOING if _seats_taken(event.pk) < event.capacity else RsvpStatus.WAITING
    if existing is None:
        return Rsvp.objects.create(event=event, user=user, status=status, requested_at=now)
    existing.status = status
    existing.requested_at = now
    existing.save(update_fields=["status", "requested_at", "updated_at"])
    return existing


def _promote_waiting(event: Event, now: datetime) -> list[Rsvp]:
    """Gives the free seats to the waiting list in order; each promoted member is told by e-mail.
    Call with the event's row locked."""
    free = event.capacity - _seats_taken(event.pk)
    if free <= 0:
        return []
    promoted = list(
        Rsvp.objects.filter(event=event, status=RsvpStatus.WAITING)
        .select_related("user__member")
        .order_by("requested_at", "pk")[:free]
    )
    for entry in promoted:
        entry.status = RsvpStatus.GOING
        entry.save(update_fields=["status", "updated_at"])
    notifications.record(
        [
            notifications.build(
                user=entry.user,
                kind=EmailKind.RSVP_PROMOTED,
                key=f"promoted:{entry.pk}:{entry.requested_at.timestamp():.6f}",
                subject=lambda: gettext("A seat is yours: %(title)s") % {"title": event.title},
                template="community/email/rsvp_promoted.txt",
                context={"event": event},
            )
            for entry in promoted
        ]
    )
    return promoted


@transaction.atomic
def rsvp_cancel(*, event: Event, user: User, now: datetime) -> Rsvp | None:
    """The member gives up their seat (or their place in the queue); the first waiting gets the seat."""
    event = _lock_event(event.pk)
    entry = Rsvp.objects.filter(event=event, user=user).exclude(status=RsvpStatus.CANCELLED).first()
    if entry is None:
        return None
    was_going = entry.status == RsvpStatus.GOING
    entry.status = RsvpStatus.CANCELLED
    entry.save(update_fields=["status", "updated_at"])
    if was_going and event.status == EventStatus.APPROVED and event.start > now:
        _promote_waiting(event, now)
    return entry


@transaction.atomic
def event_fill_seats(*, event: Event, now: datetime) -> list[Rsvp]:
    """After a manager raised the capacity: the waiting list moves up."""
    event = _lock_event(event.pk)
    if event.status != EventStatus.APPROVED or event.start <= now:
        return []
    return _promote_waiting(event, now)


def _check_attendee(event: Event, user: User) -> None:
    if not event.accepts_proposals:
        raise CommunityError(_("This event does not collect talk proposals."))
    if not Rsvp.objects.filter(event=event, user=user, status=RsvpStatus.GOING).exists():
        raise CommunityError(_("Register for the event to propose talks and vote."))


def proposal_create(*, event: Event, author: User, title: str, summary: str) -> TalkProposal:
    _check_attendee(event, author)
    proposal = TalkProposal(event=event, author=author, title=title.strip(), summary=summary.strip())
    proposal.full_clean()
    proposal.save()
    return proposal


def proposal_vote(*, proposal: TalkProposal, user: User) -> bool:
    """Toggles the member's vote; True when they now vote for it."""
    _check_attendee(proposal.event, user)
    deleted, _ = ProposalVote.objects.filter(proposal=proposal, user=user).delete()
    if deleted:
        return False
    ProposalVote.objects.get_or_create(proposal=proposal, user=user)
    return True
