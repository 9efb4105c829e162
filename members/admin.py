"""The admin of accounts, member profiles, skills, manager roles and the audit log.

A manager (spaces.admin_scoping) sees the members of the spaces they run: the people who booked
there or hold a pass there, and nobody else. Accounts themselves (e-mail, password, staff status, groups,
permissions), who manages which space, groups, e-mail addresses and skills are superusers' business.
"""

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from members import services
from members.models import AuditEntry, ManagerAssignment, Member, Skill, User
from spaces.admin_scoping import (
    ManagedSpacesAdminMixin,
    SuperusersOnlyAdminMixin,
    is_superuser,
    space_ids_for,
)


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


def booked_or_holds_a_pass_in(space_ids, user_ref: str):
    """True for the rows whose user (`user_ref`, a field of the outer query) booked in, or holds a pass
    in, one of `space_ids`: the members a manager of those spaces deals with."""
    # members sits below billing and bookings (bookings -> billing -> members -> spaces) and never imports
    # them: their models are looked up by name here, when a page is built and every app is loaded, so the
    # import graph keeps its direction and no import cycle can appear.
    booking = apps.get_model("bookings", "Booking")
    pass_model = apps.get_model("billing", "Pass")
    booked = booking.objects.filter(member_id=OuterRef(user_ref), space_id__in=space_ids)
    holds_a_pass = pass_model.objects.filter(member_id=OuterRef(user_ref), space_id__in=space_ids)
    return Exists(booked) | Exists(holds_a_pass)


class MembersOfManagedSpacesMixin(ManagedSpacesAdminMixin):
    """For rows that belong to a person rather than to a space: a manager sees the people who booked in
    or hold a pass in a space they run. `user_field` leads from a row to its user's id."""

    user_field = "pk"

    def scope_queryset(self, request, queryset):
        space_ids = space_ids_for(request)
        if space_ids is None:
            return queryset
        return queryset.filter(booked_or_holds_a_pass_in(space_ids, self.user_field))

    def in_scope(self, request, obj) -> bool:
        if space_ids_for(request) is None:
            return True
        # Asked several times per page about the same row: one query per row and request.
        seen = request.__dict__.setdefault("_members_in_scope", {})
        key = (self.model._meta.label, obj.pk)
        if key not in seen:
            rows = self.model._default_manager.filter(pk=obj.pk)
            seen[key] = self.scope_queryset(request, rows).exists()
        return seen[key]


class ManagerAssignmentInline(SuperusersOnlyAdminMixin, admin.TabularInline):
    model = ManagerAssignment
    extra = 0
    autocomplete_fields = ["space"]


@admin.register(User)
class UserAdmin(MembersOfManagedSpacesMixin, DjangoUserAdmin):
    # A manager looks a member up; only superusers create, change or delete an account (its e-mail,
    # password, staff status, groups, permissions and manager roles).
    manager_can_add = False
    manager_can_change = False
    manager_can_delete = False
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "member__display_name"]
    inlines = [ManagerAssignmentInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    # What a manager reads of an account: not its password hash, nor its permissions.
    manager_fieldsets = [
        (None, {"fields": ["email", "is_active"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not is_superuser(request):
            return self.manager_fieldsets
        return super().get_fieldsets(request, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.member_create(user=obj)


@admin.register(Member)
class MemberAdmin(MembersOfManagedSpacesMixin, admin.ModelAdmin):
    user_field = "user_id"
    # A profile comes with its account: created at sign-up, erased through members.services.member_erase.
    manager_can_add = False
    manager_can_delete = False
    list_display = ["__str__", "user", "profession", "company", "directory_opt_in", "created_at"]
    list_filter = ["directory_opt_in", "preferred_language", "billing_country"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__email", "profession", "company", "skills__name"]
    autocomplete_fields = ["skills"]
    readonly_fields = [
        "user",
        "directory_consent_at",
        "directory_consent_version",
        "erased_at",
        "created_at",
    ]
    # A manager may correct a profile (a name, billing details for the invoices) but never consents to
    # the directory on a member's behalf (GDPR: consent is the member's own act), and skills are a
    # list shared by every space, kept by superusers.
    manager_readonly_fields = ["directory_opt_in", "skills"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not is_superuser(request):
            readonly += self.manager_readonly_fields
        return readonly


@admin.register(Skill)
class SkillAdmin(SuperusersOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "key"]
    search_fields = ["name", "key"]

    def save_model(self, request, obj, form, change):
        from members.models import skill_key

        obj.key = skill_key(obj.name)
        super().save_model(request, obj, form, change)


@admin.register(ManagerAssignment)
class ManagerAssignmentAdmin(SuperusersOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "space", "created_at"]
    list_filter = ["space"]
    list_select_related = ["user", "space"]
    search_fields = ["user__email", "space__name"]
    autocomplete_fields = ["user", "space"]


class SuperusersGroupAdmin(SuperusersOnlyAdminMixin, GroupAdmin):
    pass


class SuperusersEmailAddressAdmin(SuperusersOnlyAdminMixin, EmailAddressAdmin):
    pass


# Groups carry model permissions and an e-mail address marked verified here takes over an account: both
# are superusers' business, whatever permissions a staff user holds. Django and allauth register their
# admins before ours (INSTALLED_APPS order); these replace them.
for _model, _model_admin in [(Group, SuperusersGroupAdmin), (EmailAddress, SuperusersEmailAddressAdmin)]:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only: a manager sees the entries of the spaces they run."""

    list_display = ["created_at", "actor_email", "action", "space", "target_type", "target_repr", "note"]
    # Only the spaces of the manager's entries, never the names of the other spaces.
    list_filter = ["action", ("space", admin.RelatedOnlyFieldListFilter), "target_type"]
    list_select_related = ["space"]
    search_fields = ["actor_email", "action", "target_repr", "target_id", "note"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "actor",
        "actor_email",
        "action",
        "space",
        "target_type",
        "target_id",
        "target_repr",
        "before",
        "after",
        "note",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        space_ids = space_ids_for(request)
        return queryset if space_ids is None else queryset.filter(space_id__in=space_ids)

    def _runs_a_space(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or bool(space_ids_for(request)))

    def has_module_permission(self, request):
        return self._runs_a_space(request)

    def has_view_permission(self, request, obj=None):
        return self._runs_a_space(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
