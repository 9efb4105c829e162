"""Writes on members. Views, forms, the allauth adapter and the admin call these, nothing else."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from members.models import ApiToken, AuditEntry, ManagerAssignment, Member, Skill, User, skill_key

logger = logging.getLogger(__name__)

# Bump when the wording of the directory consent changes: the version a member agreed to is stored.
DIRECTORY_CONSENT_VERSION = "2026-11"

PROFILE_FIELDS = (
    "display_name",
    "profession",
    "bio",
    "company",
    "website",
    "phone",
    "preferred_language",
    "billing_name",
    "billing_address",
    "billing_country",
    "vat_number",
    "company_registration",
)


def member_create(*, user: User, display_name: str = "") -> Member:
    member, _ = Member.objects.get_or_create(user=user, defaults={"display_name": display_name})
    return member


def skills_get_or_create(*, names: Iterable[str]) -> list[Skill]:
    """The skills named, creating the new ones; spelling variants of one skill map to the first one."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = " ".join(raw.split())[:80]
        key = skill_key(name)
        if key and key not in wanted:
            wanted[key] = name
    existing = {skill.key: skill for skill in Skill.objects.filter(key__in=wanted)}
    for key, name in wanted.items():
        if key not in existing:
            existing[key], _ = Skill.objects.get_or_create(key=key, defaults={"name": name})
    return [existing[key] for key in wanted]


@transaction.atomic
def member_update_profile(
    *, member: Member, data: dict, skills: Iterable[str] | None = None, now: datetime
) -> Member:
    # Work on the stored row, locked: a bound ModelForm has already copied its data onto `member`,
    # and the consent rules compare with what was stored before this change.
    member = Member.objects.select_for_update().get(pk=member.pk)
    for field in PROFILE_FIELDS:
        if field in data:
            setattr(member, field, data[field])
    if "photo" in data:
        member.photo = data["photo"]
    if "directory_opt_in" in data:
        _set_directory_opt_in(member, bool(data["directory_opt_in"]), now)
    member.profession_key = skill_key(member.profession)
    member.full_clean(exclude=["user", "skills"])
    member.save()
    if skills is not None:
        member.skills.set(skills_get_or_create(names=skills))
    return member


def _set_directory_opt_in(member: Member, opt_in: bool, now: datetime) -> None:
    if opt_in and not member.directory_opt_in:
        member.directory_consent_at = now
        member.directory_consent_version = DIRECTORY_CONSENT_VERSION
    elif not opt_in:
        member.directory_consent_at = None
        member.directory_consent_version = ""
    member.directory_opt_in = opt_in


@transaction.atomic
def member_erase(*, user: User, now: datetime) -> None:
    """GDPR art. 17: remove the personal data of an account that asks to be deleted.

    The User and Member rows stay, anonymised, because invoices (kept 10 years, CGI/LPF and CTVA) and
    bookings refer to them; invoices carry their own snapshot of the buyer, so nothing is lost there.
    """
    from allauth.account.models import EmailAddress

    member = Member.objects.select_for_update().get(user=user)
    photo = member.photo.name if member.photo else ""
    for field in PROFILE_FIELDS:
        setattr(member, field, Member._meta.get_field(field).get_default())
    member.photo = ""
    member.profession_key = ""
    member.directory_opt_in = False
    member.directory_consent_at = None
    member.directory_consent_version = ""
    member.erased_at = now
    member.save()
    member.skills.clear()

    EmailAddress.objects.filter(user=user).delete()
    user.email = f"erased-{user.pk}@invalid.invalid"
    user.first_name = user.last_name = ""
    user.is_active = user.is_staff = user.is_superuser = False
    user.set_unusable_password()
    user.save()
    ManagerAssignment.objects.filter(user=user).delete()
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    if photo:
        transaction.on_commit(lambda: member.photo.storage.delete(photo))
    logger.info("member erased", extra={"user_id": user.pk})


def manager_assign(*, user: User, space) -> ManagerAssignment:
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    assignment, _ = ManagerAssignment.objects.get_or_create(user=user, space=space)
    return assignment


def member_lock(*, user: User) -> None:
    """Lock the member's row until the end of the current transaction (PostgreSQL; a no-op on SQLite,
    whose transactions already hold the database's write lock). Serialises changes that must consider
    everything the member holds, such as booking a desk."""
    if not connection.features.has_select_for_update:
        return  # Django would drop FOR UPDATE anyway: the query would lock nothing
    list(Member.objects.select_for_update().filter(user=user).values_list("pk", flat=True))


def audit_record(
    *,
    actor: User | None,
    action: str,
    target=None,
    space_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    target_type: str = "",
    target_id: str = "",
) -> AuditEntry:
    """Writes one audit entry (in the caller's transaction, so it commits with the action or not at
    all). `target` is the model instance acted on (its type, id and str() are kept); `before` and
    `after` are small JSON-able dicts of the fields the action changed; `space_id` scopes the entry to
    the managers of that space."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    return AuditEntry.objects.create(
        actor=actor,
        actor_email=getattr(actor, "email", "") or "",
        action=action[:60],
        space_id=space_id,
        target_type=target_type[:60],
        target_id=target_id[:40],
        target_repr=str(target)[:200] if target is not None else "",
        before=before,
        after=after,
        note=note[:300],
    )
