from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing import selectors as billing_selectors
from bookings import services
from bookings.errors import BookingError
from bookings.forms import ManagerCancelForm
from bookings.models import Booking, BookingStatus
from members.selectors import managed_space_ids


class MemberSuspendedFilter(admin.SimpleListFilter):
    title = _("member suspended for an unpaid invoice")
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(member_suspended=True)
        if self.value() == "no":
            return queryset.filter(member_suspended=False)
        return queryset


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "local_date",
        "part",
        "resource",
        "space",
        "member",
        "member_standing",
        "status",
        "created_at",
    ]
    list_filter = ["status", MemberSuspendedFilter, "part", "space", "is_desk", "local_date"]
    list_select_related = ["resource", "space", "member"]
    search_fields = ["member__email", "member__member__display_name", "resource__name", "space__name"]
    date_hierarchy = "local_date"
    ordering = ["-start"]
    actions = ["cancel_with_reason"]
    readonly_fields = [
        "resource",
        "space",
        "member",
        "start",
        "end",
        "local_date",
        "part",
        "status",
        "created_at",
        "booked_by",
        "cancelled_at",
        "cancelled_by",
        "cancellation_reason",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        # A manager sees the bookings of the spaces they run, nothing else.
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                member_suspended=Exists(
                    billing_selectors.suspended_passes().filter(member_id=OuterRef("member_id"))
                )
            )
        )
        space_ids = managed_space_ids(user=request.user)
        return queryset if space_ids is None else queryset.filter(space_id__in=space_ids)

    @admin.display(description=_("member's passes"), boolean=False, ordering="member_suspended")
    def member_standing(self, obj):
        # A suspended member keeps future bookings; the manager sees them flagged to follow up.
        return _("Suspended (unpaid)") if obj.member_suspended else "—"

    def _runs_a_space(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or bool(managed_space_ids(user=user)))

    def has_module_permission(self, request):
        return self._runs_a_space(request)

    def has_view_permission(self, request, obj=None):
        return self._runs_a_space(request)

    def has_change_permission(self, request, obj=None):
        # Changing a booking means cancelling it through the action; its fields are read-only.
        return self._runs_a_space(request)

    def has_add_permission(self, request):
        return False  # bookings are made through the booking service, which checks every rule

    def has_delete_permission(self, request, obj=None):
        return False  # a booking is cancelled, never deleted: it stays in the member's history

    @admin.action(description=_("Cancel the selected bookings (with a reason sent to the member)"))
    def cancel_with_reason(self, request, queryset):
        form = ManagerCancelForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            done, refused = 0, []
            for booking in queryset.filter(status=BookingStatus.CONFIRMED).select_related("space"):
                try:
                    services.booking_cancel(
                        booking=booking,
                        by=request.user,
                        now=timezone.now(),
                        reason=form.cleaned_data["reason"],
                    )
                    done += 1
                except BookingError as error:
                    refused.append(f"{booking}: {error.message}")
            if done:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d booking cancelled; the member is told by e-mail.",
                        "%(count)d bookings cancelled; the members are told by e-mail.",
                        done,
                    )
                    % {"count": done},
                    messages.SUCCESS,
                )
            for line in refused:
                self.message_user(request, line, messages.WARNING)
            return None
        return render(
            request,
            "admin/bookings/cancel_with_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Cancel bookings"),
                "form": form,
                "bookings": queryset.select_related("resource", "member", "space"),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
