"""Reads of the community. Every read of members goes through `directory_members()`: opted in, not
erased, active; and every card built from it (`card()`) shows only the fields the member shows. Each page
reads a bounded number of queries whatever the number of members (tests/community/test_queries.py)."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from community import presence
from community.models import (
    CommunityProfile,
    Event,
    EventStatus,
    Post,
    PostStatus,
    ProposalVote,
    Rsvp,
    RsvpStatus,
    SkillAlert,
    TalkProposal,
    Thanks,
)
from members import selectors as member_selectors
from members.models import Member, Skill, User, skill_key
from spaces import localtime
from spaces.models import Space

DIRECTORY_PAGE = 24
DEFAULT_PROFILE = CommunityProfile()


def _hides(flag: str):
    return Exists(CommunityProfile.objects.filter(user_id=OuterRef("user_id"), **{flag: False}))


def directory_members() -> QuerySet[Member]:
    """The members anyone signed in may see: opted in to the directory, not erased, account active."""
    return Member.objects.filter(directory_opt_in=True, erased_at__isnull=True, user__is_active=True)


@dataclass
class Card:
    """What the directory, a profile page and who-is-in show of a member: nothing they hide, never their
    e-mail address."""

    member_id: int
    name: str
    profession: str = ""
    photo_url: str = ""
    bio: str = ""
    company: str = ""
    website: str = ""
    skills: list[str] = field(default_factory=list)
    spaces: list[Space] = field(default_factory=list)
    thanks: int = 0


def _card(member: Member, *, full: bool = True) -> Card:
    profile = profile_of(member)
    card = Card(member_id=member.pk, name=member.name, thanks=getattr(member, "thanks_count", 0))
    if profile.show_profession:
        card.profession = member.profession
    if profile.show_skills:
        card.skills = [skill.name for skill in member.skills.all()]
    if not full:
        return card
    if profile.show_photo and member.photo:
        card.photo_url = member.photo.url
    if profile.show_bio:
        card.bio = member.bio
    if profile.show_company:
        card.company = member.company
    if profile.show_website:
        card.website = member.website
    if profile.show_spaces and profile.pk:
        card.spaces = list(profile.spaces.all())
    return card


def _with_cards(queryset: QuerySet[Member]) -> QuerySet[Member]:
    return queryset.select_related("user").prefetch_related(
        "skills",
        Prefetch(
            "user__community_profile",
            queryset=CommunityProfile.objects.prefetch_related("spaces"),
        ),
    )


def profile_of(member: Member) -> CommunityProfile:
    try:
        return member.user.community_profile
    except CommunityProfile.DoesNotExist:
        return DEFAULT_PROFILE


def _cards(members, *, full: bool = True) -> list[Card]:
    return [_card(member, full=full) for member in members]


@dataclass
class DirectoryPage:
    cards: list[Card]
    total: int
    page: int
    pages: int


def directory_search(
    *, skill: str = "", profession: str = "", space_id: int | None = None, text: str = "", page: int = 1
) -> DirectoryPage:
    """Case- and accent-insensitive through the stored keys (Skill.key, Member.profession_key): the same
    on SQLite and PostgreSQL. A member who hides a field is not found through it."""
    members = directory_members()
    if skill_wanted := skill_key(skill):
        members = members.filter(skills__key__contains=skill_wanted).exclude(_hides("show_skills"))
    if profession_wanted := skill_key(profession):
        members = members.filter(profession_key__contains=profession_wanted).exclude(
            _hides("show_profession")
        )
    if space_id:
        members = members.filter(user__community_profile__spaces=space_id).exclude(_hides("show_spaces"))
    if text := text.strip():
        members = members.filter(Q(display_name__icontains=text) | Q(company__icontains=text))
    ids = members.values("pk").distinct()
    matched = Member.objects.filter(pk__in=ids)
    total = matched.count()
    pages = max(1, -(-total // DIRECTORY_PAGE))
    page = min(max(1, page), pages)
    rows = _with_cards(matched).annotate(thanks_count=_thanks_count()).order_by("display_name", "pk")
    start = (page - 1) * DIRECTORY_PAGE
    return DirectoryPage(
        cards=_cards(rows[start : start + DIRECTORY_PAGE]), total=total, page=page, pages=pages
    )


def _thanks_count():
    thanks = (
        Thanks.objects.filter(helper_id=OuterRef("user_id"))
        .values("helper_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(thanks, output_field=IntegerField()), Value(0))


def directory_card(*, member_id: int) -> Card | None:
    members = _with_cards(directory_members().filter(pk=member_id))
    member = members.annotate(thanks_count=_thanks_count()).first()
    return _card(member) if member else None


def skill_suggestions(*, limit: int = 300) -> QuerySet[Skill]:
    """The skills members show in the directory: a tag nobody shows is not suggested, so the list says
    nothing of the members who hide theirs or stay out."""
    shown = directory_members().exclude(_hides("show_skills"))
    return Skill.objects.filter(members__in=shown).distinct().order_by("name")[:limit]


# --- who is in ---------------------------------------------------------------------------------------


@dataclass
class PresentDay:
    day: date
    cards: list[Card]


def who_is_in(*, space: Space, now: datetime) -> list[PresentDay]:
    """The directory's members with a booking at the space today and tomorrow (the space's days), with
    their name, profession and skills as they show them. Three queries whatever the numbers."""
    today = localtime.local_date(now, space.tz)
    days = [today, today + timedelta(days=1)]
    present = presence.members_present(space_id=space.pk, days=days)
    user_ids = {user_id for ids in present.values() for user_id in ids}
    members = {
        member.user_id: member for member in _with_cards(directory_members().filter(user_id__in=user_ids))
    }
    result = []
    for day in days:
        chosen = [members[user_id] for user_id in present.get(day, []) if user_id in members]
        result.append(PresentDay(day=day, cards=_cards(chosen, full=False)))
    return result


ALERT_SKILLS_TIMEOUT = 3600
# The summary under its version never changes, so each process keeps the one it last read.
_alert_skills_read: dict[str, dict] = {}


def _alert_skills_version() -> str:
    version = cache.get("community:alert-skills:version")
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add("community:alert-skills:version", version, ALERT_SKILLS_TIMEOUT):
            version = cache.get("community:alert-skills:version") or version
    return version


def bump_alert_skills() -> None:
    """After a skill alert is created or deleted (on commit): the summary below is read afresh."""
    cache.set("community:alert-skills:version", uuid.uuid4().hex, ALERT_SKILLS_TIMEOUT)


def alert_skill_ids(*, space_id: int) -> frozenset[int]:
    """The skills someone asked to hear about at this space (or at every space). Every booking asks, so
    the whole table's summary is cached under a version that any alert's creation or deletion changes
    (community.signals): a booking whose space has none reads no row. A reader that built the summary
    from rows older than a change stores it under the version the change replaced, where nobody looks."""
    key = f"community:alert-skills:{_alert_skills_version()}"
    summary = _alert_skills_read.get(key)
    if summary is None:
        summary = cache.get(key)
        if summary is None:
            summary = {}
            for skill_id, alert_space_id in SkillAlert.objects.values_list("skill_id", "space_id").distinct():
                summary.setdefault(alert_space_id or 0, set()).add(skill_id)
            cache.set(key, summary, ALERT_SKILLS_TIMEOUT)
        _alert_skills_read.clear()  # only the current version is worth keeping
        _alert_skills_read[key] = summary
    return frozenset(summary.get(space_id, ())) | frozenset(summary.get(0, ()))


def skill_alerts_of(*, user: User) -> QuerySet[SkillAlert]:
    return SkillAlert.objects.filter(user=user).select_related("skill", "space").order_by("skill__name")


def skill_ids_of(*, user_ids: list[int]) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for user_id, skill_id in Member.skills.through.objects.filter(member__user_id__in=user_ids).values_list(
        "member__user_id", "skill_id"
    ):
        result.setdefault(user_id, set()).add(skill_id)
    return result


def chosen_space_ids_of(*, user_ids: list[int]) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for user_id, space_id in CommunityProfile.spaces.through.objects.filter(
        communityprofile__user_id__in=user_ids
    ).values_list("communityprofile__user_id", "space_id"):
        result.setdefault(user_id, set()).add(space_id)
    return result


# --- the board ---------------------------------------------------------------------------------------


def board(*, today: date, space: Space | None = None, kind: str = "", skill: str = "") -> QuerySet[Post]:
    """The open posts: of one space and the network's, or all of them on the network's board."""
    posts = Post.objects.visible(today=today)
    if space is not None:
        posts = posts.filter(Q(space=space) | Q(space__isnull=True))
    if kind:
        posts = posts.filter(kind=kind)
    if skill_wanted := skill_key(skill):
        posts = posts.filter(skills__key__contains=skill_wanted).distinct()
    return (
        posts.select_related("space", "author__member")
        .prefetch_related("skills")
        .order_by("-created_at", "-pk")
    )


def post_for(*, post_id: int, user: User, today: date) -> Post | None:
    """A post its author always sees; others see it while it is on the board or fulfilled (not hidden)."""
    post = (
        Post.objects.select_related("space", "author__member")
        .prefetch_related("skills")
        .filter(pk=post_id)
        .first()
    )
    if post is None:
        return None
    if post.author_id == user.pk:
        return post
    if post.hidden or (post.status == PostStatus.OPEN and post.expires_on < today):
        return None
    return post


def posts_of(*, user: User) -> QuerySet[Post]:
    return Post.objects.filter(author=user).select_related("space").order_by("-created_at")


# --- events ------------------------------------------------------------------------------------------


def _visible_events(user) -> Q:
    if not user.is_authenticated:
        return Q(status=EventStatus.APPROVED, open_to_non_members=True)
    visible = Q(status=EventStatus.APPROVED) | Q(created_by=user)
    space_ids = member_selectors.managed_space_ids(user=user) if user.is_staff else set()
    if space_ids is None:
        return Q()
    if space_ids:
        visible |= Q(space_id__in=space_ids)
    return visible


def upcoming_events(*, user, now: datetime, space: Space | None = None) -> QuerySet[Event]:
    events = Event.objects.filter(_visible_events(user), end__gt=now).exclude(status=EventStatus.CANCELLED)
    if space is not None:
        events = events.filter(space=space)
    return (
        events.select_related("space")
        .annotate(going=Count("rsvps", filter=Q(rsvps__status=RsvpStatus.GOING)))
        .order_by("start", "pk")
    )


def event_for(*, event_id: int, user) -> Event | None:
    return (
        Event.objects.filter(_visible_events(user), pk=event_id)
        .select_related("space", "created_by__member")
        .annotate(going=Count("rsvps", filter=Q(rsvps__status=RsvpStatus.GOING)))
        .first()
    )


def rsvp_of(*, event: Event, user) -> Rsvp | None:
    if not user.is_authenticated:
        return None
    return Rsvp.objects.filter(event=event, user=user).exclude(status=RsvpStatus.CANCELLED).first()


def waiting_position(*, rsvp: Rsvp) -> int:
    return (
        Rsvp.objects.filter(event_id=rsvp.event_id, status=RsvpStatus.WAITING)
        .filter(Q(requested_at__lt=rsvp.requested_at) | Q(requested_at=rsvp.requested_at, pk__lt=rsvp.pk))
        .count()
        + 1
    )


def attendees(*, event: Event) -> list[Card]:
    """Who is going, as the directory shows them: members outside the directory are counted, not named."""
    user_ids = list(
        Rsvp.objects.filter(event=event, status=RsvpStatus.GOING)
        .order_by("requested_at")
        .values_list("user_id", flat=True)
    )
    members = {m.user_id: m for m in _with_cards(directory_members().filter(user_id__in=user_ids))}
    return _cards([members[user_id] for user_id in user_ids if user_id in members], full=False)


def proposals(*, event: Event, user) -> list[TalkProposal]:
    voted = Exists(ProposalVote.objects.filter(proposal=OuterRef("pk"), user_id=getattr(user, "pk", None)))
    return list(
        TalkProposal.objects.filter(event=event)
        .select_related("author__member")
        .annotate(vote_count=Count("votes"), my_vote=voted)
        .order_by("-vote_count", "created_at", "pk")
    )


def member_events(*, user_id: int, since: datetime) -> QuerySet[Event]:
    """The events a member holds a seat at (for their calendar feed)."""
    return (
        Event.objects.filter(rsvps__user_id=user_id, rsvps__status=RsvpStatus.GOING, end__gte=since)
        .exclude(status__in=[EventStatus.REJECTED, EventStatus.PENDING])
        .select_related("space")
        .order_by("start")
    )


def pending_events_for(*, user: User) -> QuerySet[Event]:
    space_ids = member_selectors.managed_space_ids(user=user) if user.is_staff else set()
    events = Event.objects.filter(status=EventStatus.PENDING).select_related("space", "created_by__member")
    if space_ids is None:
        return events
    return events.filter(space_id__in=space_ids)
