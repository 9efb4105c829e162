"""The admin of spaces, their zones, resources, opening hours and closures.

A manager sees and edits the spaces they run and what is in them; only superusers add or delete a
space (spaces.admin_scoping says who may do what, and why rights come from the manager assignments).
"""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from spaces.admin_scoping import ManagedSpacesAdminMixin, ManagedSpacesInlineMixin, is_superuser
from spaces.models import Closure, OpeningHours, Resource, Space, Zone


def _space_filter():
    # Only the spaces that appear in the manager's rows, never the names of other spaces.
    return ("space", admin.RelatedOnlyFieldListFilter)


class OpeningHoursInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = OpeningHours
    extra = 0
    max_num = 7


class ClosureInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = Closure
    extra = 0


class ZoneInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = Zone
    extra = 0


class ResourceInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = Resource
    extra = 0
    fields = ["name", "zone", "kind", "capacity", "amenities", "hourly_price", "position", "is_active"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only the zones of the space being edited.
        if db_field.name == "zone":
            space_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Zone.objects.filter(space_id=space_id) if space_id else Zone.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Space)
class SpaceAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    space_path = "pk"
    # Opening a space (its legal identity, its invoice series) or closing one down is the network's call.
    manager_can_add = False
    manager_can_delete = False
    list_display = [
        "name",
        "city",
        "country",
        "time_zone",
        "vat_rate",
        "resource_count",
        "is_active",
    ]
    list_filter = ["country", "city", "is_active"]
    # Explicit: the resource count's GROUP BY drops Meta.ordering, and the autocomplete pages need one.
    ordering = ["city", "name"]
    search_fields = ["name", "city", "legal_name", "registration_number", "invoice_prefix"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OpeningHoursInline, ClosureInline, ZoneInline, ResourceInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "description", "photo", "email", "phone"]}),
        (
            _("Address"),
            {"fields": ["street_address", "postal_code", "city", "country", "time_zone"]},
        ),
        (
            _("Booking rules"),
            {
                "fields": [
                    "half_day_split",
                    "booking_window_days",
                    "cancellation_cutoff_hours",
                    "desks_need_pass",
                ]
            },
        ),
        (
            _("Invoicing"),
            {
                "fields": [
                    "currency",
                    "vat_rate",
                    "invoice_prefix",
                    "legal_name",
                    "legal_form",
                    "share_capital",
                    "registration_number",
                    "registry",
                    "vat_number",
                    "vat_on_debits",
                    "bank_iban",
                    "bank_bic",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_resource_count=Count("resources"))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not is_superuser(request):
            # Invoice numbers run without a gap in one series per space (CGI ann. II 242 nonies A): a
            # manager does not start a new series by renaming its prefix.
            readonly.append("invoice_prefix")
        return readonly

    @admin.display(description=_("resources"), ordering="_resource_count")
    def resource_count(self, obj):
        return obj._resource_count


@admin.register(Zone)
class ZoneAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    list_display = ["name", "space", "position"]
    list_filter = [_space_filter()]
    list_select_related = ["space"]
    search_fields = ["name", "space__name"]


@admin.register(Resource)
class ResourceAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    list_display = ["name", "space", "zone", "kind", "capacity", "is_active"]
    list_filter = [_space_filter(), "kind", "is_active"]
    list_select_related = ["space", "zone"]
    search_fields = ["name", "amenities", "space__name", "zone__name"]
    autocomplete_fields = ["zone"]


@admin.register(Closure)
class ClosureAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    list_display = ["space", "start_date", "end_date", "reason"]
    list_filter = [_space_filter()]
    list_select_related = ["space"]
    search_fields = ["reason", "space__name"]
    date_hierarchy = "start_date"
