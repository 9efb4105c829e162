from django.conf import settings
from django.db.models import QuerySet

from members.models import Member, Skill, User
from spaces.prepared import PreparedQuery

# Every booking reads the booker's profile: its SQL is built once (spaces.prepared).
_MEMBER_OF_USER = PreparedQuery(lambda user_id: Member.objects.filter(user_id=user_id)[:1], user_id=int)
_BOOKER_OF_USER = PreparedQuery(
    lambda user_id: Member.objects.filter(user_id=user_id).only("user", "display_name")[:1], user_id=int
)


def member_for_user(*, user: User, booking: bool = False) -> Member:
    """The user's profile. booking=True reads only what a booking checks (the rest loads when read)."""
    member = (_BOOKER_OF_USER if booking else _MEMBER_OF_USER).first(user_id=user.pk)
    if member is None:
        raise Member.DoesNotExist(f"user {user.pk} has no member profile")
    member.user = user  # the caller's instance: no second read of the user
    return member


def language_of(user: User) -> str:
    """The language a user's e-mails are written in: their preferred one, else the site's."""
    profile = getattr(user, "member", None)
    return getattr(profile, "preferred_language", "") or settings.LANGUAGE_CODE


def managed_space_ids(*, user: User) -> set[int] | None:
    """The ids of the spaces a staff user runs; None means every space (superusers)."""
    if user.is_superuser:
        return None
    return set(user.manager_assignments.values_list("space_id", flat=True))


def skill_suggestions(*, limit: int = 200) -> QuerySet[Skill]:
    return Skill.objects.order_by("name")[:limit]
