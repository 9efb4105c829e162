from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from members import services
from members.models import ManagerAssignment, Member, Skill, User


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
