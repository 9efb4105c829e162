from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from members import services
from members.models import AuditEntry, ManagerAssignment, Member, Skill, User
from members.selectors import managed_space_ids


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class ManagerAssignmentInline(admin.TabularInline):
    model = ManagerAssignment
    extra = 0
    autocomplete_fields = ["space"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.member_create(user=obj)


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
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


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "key"]
    search_fields = ["name", "key"]

    def save_model(self, request, obj, form, change):
        from members.models import skill_key

        obj.key = skill_key(obj.name)
        super().save_model(request, obj, form, change)


@admin.register(ManagerAssignment)
class ManagerAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "space", "created_at"]
    list_filter = ["space"]
    list_select_related = ["user", "space"]
    search_fields = ["user__email", "space__name"]
    autocomplete_fields = ["user", "space"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only: a manager sees the entries of the spaces they run."""

    list_display = ["created_at", "actor_email", "action", "space", "target_type", "target_repr", "note"]
    list_filter = ["action", "space", "target_type"]
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
        space_ids = managed_space_ids(user=request.user)
        return queryset if space_ids is None else queryset.filter(space_id__in=space_ids)

    def _runs_a_space(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or bool(managed_space_ids(user=user)))

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
