from django.conf import settings
from django.db.models import QuerySet

from members.models import Member, Skill, User


def member_for_user(*, user: User) -> Member:
    member = Member.objects.get(user_id=user.pk)
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
