import unicodedata

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models, transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required")
        from members import services  # services import this module

        with transaction.atomic():
            user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
            user.set_password(password)
            user.save(using=self._db)
            services.member_create(user=user)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """An account. The e-mail address is the login; there is no username."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


def skill_key(name: str) -> str:
    """Case- and accent-insensitive identity of a skill: "Développeur" and "developpeur" are one."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return slugify(stripped.casefold())[:80]


class WebsiteField(models.URLField):
    """A URL field whose forms assume https:// when the scheme is left out (Django 6.0's default)."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})


class Skill(models.Model):
    name = models.CharField(_("name"), max_length=80)
    key = models.SlugField(max_length=80, unique=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """The profile of every account: what members show each other and what invoices are addressed to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    profession = models.CharField(_("profession"), max_length=80, blank=True)
    # skill_key() of the profession, so the directory finds "Développeuse" when asked for "developpeuse"
    # on SQLite and PostgreSQL alike (no unaccent extension); kept by members.services.
    profession_key = models.CharField(max_length=80, blank=True, editable=False, db_index=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="members", verbose_name=_("skills"))
    bio = models.TextField(_("bio"), max_length=2000, blank=True)
    company = models.CharField(_("company"), max_length=120, blank=True)
    website = WebsiteField(_("website"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    photo = models.ImageField(_("photo"), upload_to="members/", blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=settings.LANGUAGES, default="fr"
    )

    # Billing details printed on invoices (a snapshot is taken when an invoice is issued).
    billing_name = models.CharField(
        _("billing name"),
        max_length=200,
        blank=True,
        help_text=_("Company or person to invoice; your display name if empty."),
    )
    billing_address = models.TextField(_("billing address"), max_length=500, blank=True)
    billing_country = models.CharField(_("billing country"), max_length=2, blank=True, default="FR")
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    company_registration = models.CharField(
        _("company registration number"),
        max_length=40,
        blank=True,
        help_text=_("SIREN in France, enterprise number in Belgium"),
    )

    # GDPR: the directory is opt-in (unticked by default), with the time and wording of the consent.
    directory_opt_in = models.BooleanField(_("show me in the member directory"), default=False)
    directory_consent_at = models.DateTimeField(null=True, blank=True, editable=False)
    directory_consent_version = models.CharField(max_length=20, blank=True, editable=False)

    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(
                fields=["directory_opt_in"],
                condition=models.Q(directory_opt_in=True),
                name="member_in_directory",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.email.split("@")[0]

    @property
    def is_complete(self) -> bool:
        """Enough to book: a name to show on the check-in list."""
        return bool(self.display_name)


class ManagerAssignment(models.Model):
    """A staff user runs a space: they see and change only the spaces they are assigned to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manager_assignments"
    )
    space = models.ForeignKey("spaces.Space", on_delete=models.CASCADE, related_name="manager_assignments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("manager assignment")
        verbose_name_plural = _("manager assignments")
        constraints = [models.UniqueConstraint(fields=["user", "space"], name="manager_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.space}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who did what, when, to which object, with its state before and after: every manager action
    (cancelling a booking, recording a payment, issuing a credit note, changing a pass, an export...)
    is written here by the service that performs it, in the same transaction. Append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    actor_email = models.EmailField(_("by (e-mail)"), help_text=_("Kept if the account is deleted."))
    action = models.CharField(_("action"), max_length=60, db_index=True)
    space = models.ForeignKey(
        "spaces.Space",
        verbose_name=_("space"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target_type = models.CharField(_("object type"), max_length=60)
    target_id = models.CharField(_("object id"), max_length=40, blank=True)
    target_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["space", "-created_at"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("audit entries are never edited")
        super().save(*args, **kwargs)
