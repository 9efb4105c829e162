"""Who may see and change what in the admin: a manager (a staff user with ManagerAssignment rows) sees and
changes only the spaces they run and what belongs to them; superusers see everything; any other staff
user sees no module at all.

Rights in the admin come from the assignments, never from Django's model permissions: a permission
granted through a group would otherwise open every space's rows at once (a permission is per model, not
per space). The billing and bookings admins follow the same rule with their own helpers.

Scoping the queryset (get_queryset) is what keeps other spaces out of every admin view at once: the
change list and its filters, the change, delete and history pages (ModelAdmin.get_object reads through
get_queryset), the actions (they run on the change list's queryset) and the autocomplete endpoint (it
searches the queryset of the target model's admin). The permission checks and the limited foreign-key
choices are the second line: they refuse an object or a choice even where a view reaches it another way.

This module lives in the project package because the spaces admin needs it and spaces imports no app
of ours: the project wires the apps together and may import any of them.
"""

from django.contrib.admin.exceptions import NotRegistered


def space_ids_for(request) -> set[int] | None:
    """The ids of the spaces the request's user runs (None: every space, for superusers), read once per
    request: every permission check of a page asks."""
    if not hasattr(request, "_managed_space_ids"):
        # The same rule as members.selectors.managed_space_ids, read through the user's reverse
        # relation: spaces imports no app of ours (DESIGN.md), and this is all it needs of members.
        user = request.user
        request._managed_space_ids = (
            None if user.is_superuser else set(user.manager_assignments.values_list("space_id", flat=True))
        )
    return request._managed_space_ids


def is_superuser(request) -> bool:
    user = request.user
    return user.is_active and user.is_superuser


def runs_a_space(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or bool(space_ids_for(request)))


def space_id_of(obj, path: str) -> int | None:
    """Follow `path` ("space", "zone__space", "pk"...) from `obj` to the id of its space."""
    if path == "pk":
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def scoped_choices(admin_site, request, model, db=None):
    """The rows of `model` a manager may pick in a form: those its admin shows them (the spaces they run,
    their zones, their members...), or None when that admin is not scoped by space."""
    try:
        related_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        return None
    if not isinstance(related_admin, ManagedSpacesAdminMixin):
        return None
    queryset = related_admin.scope_queryset(request, model._default_manager.using(db).all())
    ordering = related_admin.get_ordering(request)
    return queryset.order_by(*ordering) if ordering else queryset


class _LimitedChoicesMixin:
    """Foreign-key and many-to-many choices limited to what the manager may see, so that a form posted
    with the id of another space's row is invalid, not saved."""

    def _limit_choices(self, db_field, request, kwargs) -> None:
        if "queryset" in kwargs or space_ids_for(request) is None:
            return
        queryset = scoped_choices(self.admin_site, request, db_field.remote_field.model, kwargs.get("using"))
        if queryset is not None:
            kwargs["queryset"] = queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ManagedSpacesAdminMixin(_LimitedChoicesMixin):
    """For a ModelAdmin whose rows belong to a space: `space_path` leads from a row to its space ("space",
    "zone__space", "pass_obj__space"; "pk" for Space itself). The manager_can_* flags say what a manager
    may do with the rows of the spaces they run; superusers may do whatever the admin allows."""

    space_path = "space"
    manager_can_add = True
    manager_can_change = True
    manager_can_delete = True

    def scope_queryset(self, request, queryset):
        space_ids = space_ids_for(request)
        if space_ids is None:
            return queryset
        return queryset.filter(**{f"{self.space_path}__in": space_ids})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def in_scope(self, request, obj) -> bool:
        space_ids = space_ids_for(request)
        return space_ids is None or space_id_of(obj, self.space_path) in space_ids

    def _manager_may(self, request, obj, allowed: bool) -> bool:
        return allowed and runs_a_space(request) and (obj is None or self.in_scope(request, obj))

    def has_module_permission(self, request):
        if is_superuser(request):
            return super().has_module_permission(request)
        return runs_a_space(request)

    def has_view_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_view_permission(request, obj)
        return self._manager_may(request, obj, True)

    def has_add_permission(self, request):
        if is_superuser(request):
            return super().has_add_permission(request)
        return self._manager_may(request, None, self.manager_can_add)

    def has_change_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_change_permission(request, obj)
        return self._manager_may(request, obj, self.manager_can_change)

    def has_delete_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_delete_permission(request, obj)
        return self._manager_may(request, obj, self.manager_can_delete)


class ManagedSpacesInlineMixin(_LimitedChoicesMixin):
    """For an inline of a space-scoped admin: its rows follow the parent's rights. `obj` is the parent
    here (Django passes the object being edited), and `parent_space_path` leads from it to its space."""

    space_path = "space"
    parent_space_path = "pk"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        space_ids = space_ids_for(request)
        return queryset if space_ids is None else queryset.filter(**{f"{self.space_path}__in": space_ids})

    def _parent_allows(self, request, obj) -> bool:
        if not runs_a_space(request):
            return False
        return obj is None or space_id_of(obj, self.parent_space_path) in space_ids_for(request)

    def has_view_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_view_permission(request, obj)
        return self._parent_allows(request, obj)

    def has_add_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_add_permission(request, obj)
        return self._parent_allows(request, obj)

    def has_change_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_change_permission(request, obj)
        return self._parent_allows(request, obj)

    def has_delete_permission(self, request, obj=None):
        if is_superuser(request):
            return super().has_delete_permission(request, obj)
        return self._parent_allows(request, obj)


class SuperusersOnlyAdminMixin:
    """Accounts, roles and global lists (groups, permissions, who manages which space, e-mail addresses,
    skills): only superusers see or change them, whatever model permissions a staff user holds."""

    def has_module_permission(self, request):
        return is_superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_superuser(request) and super().has_delete_permission(request, obj)
