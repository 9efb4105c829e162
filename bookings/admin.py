"""The bookings admin a space manager uses: the bookings of the spaces they run, cancelling some with a
reason the members receive, booking for a member ("Book for a member") and closing a space for some days
("Close the space": the closure, then the bookings it cancels, each member told).

Writes go through bookings.services (booking_cancel, booking_create_for_member, space_close), which check
every rule and write the audit log in the action's transaction. Every page is scoped to the spaces the
manager runs; superusers see every space.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing import selectors as billing_selectors
from bookings import services
from bookings.errors import BookingError
from bookings.forms import ManagerCancelForm
from bookings.models import Booking, BookingStatus
from members.models import User
from members.selectors import managed_space_ids
from spaces import localtime
from spaces.admin_scoping import space_ids_for
from spaces.models import Resource, Space


def _space_ids(request) -> set[int] | None:
    """The spaces the user runs (None: all of them), read once per request for every admin."""
    return space_ids_for(request)


def _runs_a_space(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or bool(_space_ids(request)))


# The service's messages speak to the member booking; a manager booking for them reads these instead.
MANAGER_MESSAGES = {
    "profile_incomplete": _(
        "This member has not completed their profile (their name): ask them to, then book again."
    ),
    "not_entitled": _(
        "This member has no pass or day credit for this desk on that day: sell them a pass first."
    ),
    "suspended": _("This member's pass is suspended for an unpaid invoice: record the payment first."),
    "member_has_desk": _("This member already has a desk booked at that time."),
}


def _manager_message(error: BookingError) -> str:
    message = MANAGER_MESSAGES.get(error.code)
    return str(message) if message is not None else error.message


def bookable_members():
    """The accounts a manager may book for: active, not erased."""
    return User.objects.filter(is_active=True, member__erased_at__isnull=True)


def member_label(user: User) -> str:
    return f"{user.member.name} <{user.email}>"


class MemberAutocomplete(AutocompleteSelect):
    """The admin's autocomplete widget, fed by the bookings admin's member search (a manager may not
    browse the accounts admin, and books only for active members)."""

    def get_url(self):
        return reverse("admin:bookings_booking_member_autocomplete")


class BookForMemberForm(forms.Form):
    """A booking a manager makes for a member. The slot and every booking rule are checked by
    bookings.services (desk_slot, room_slot, booking_create_for_member): their refusals become errors."""

    member = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Member"))
    resource = forms.ModelChoiceField(queryset=Resource.objects.none(), label=_("Desk or room"))
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    part = forms.ChoiceField(
        label=capfirst(_("part of the day")),
        required=False,
        choices=[("", "—"), *[(part.value, part.label) for part in services.DESK_PARTS]],
        help_text=_("For a desk."),
    )
    start_time = forms.TimeField(
        label=_("From"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
        help_text=_("For a room, on the hour or the half hour."),
    )
    end_time = forms.TimeField(
        label=_("To"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
    )

    def __init__(self, *args, admin_site, space_ids: set[int] | None, **kwargs):
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        member.widget = MemberAutocomplete(Booking._meta.get_field("member"), admin_site)
        member.widget.is_required = True
        member.queryset = bookable_members().select_related("member")  # after the widget: sets its choices
        member.label_from_instance = member_label
        resources = (
            Resource.objects.filter(is_active=True, space__is_active=True)
            .select_related("space")
            .order_by("space__name", "zone__position", "position", "name")
        )
        if space_ids is not None:
            resources = resources.filter(space_id__in=space_ids)
        self.fields["resource"].queryset = resources
        self.fields["resource"].label_from_instance = lambda resource: f"{resource.space.name} · {resource}"

    def clean(self):
        cleaned = super().clean()
        resource = cleaned.get("resource")
        if resource is None:
            return cleaned
        if resource.is_desk:
            if not cleaned.get("part") and "part" not in self.errors:
                self.add_error("part", gettext("A desk is booked for the day or a half day: choose which."))
        else:
            for name in ("start_time", "end_time"):
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(name, gettext("A room is booked from one time to another: give both."))
        return cleaned

    def slot(self) -> services.Slot:
        data = self.cleaned_data
        resource = data["resource"]
        if resource.is_desk:
            return services.desk_slot(resource=resource, day=data["day"], part=data["part"])
        return services.room_slot(
            resource=resource, day=data["day"], start_time=data["start_time"], end_time=data["end_time"]
        )


class CloseSpaceForm(forms.Form):
    """The days a manager closes a space. The closure and the cancellations are bookings.services.
    space_close's; what can be checked before, for a clear message on the right field, is checked here."""

    space = forms.ModelChoiceField(queryset=Space.objects.none(), label=_("Space"))
    start_date = forms.DateField(
        label=capfirst(_("first day")), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end_date = forms.DateField(
        label=capfirst(_("last day")), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown with the closure and sent to each member whose booking is cancelled."),
    )

    MAX_DAYS = 366

    def __init__(self, *args, space_ids: set[int] | None, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        spaces = Space.objects.order_by("name")
        if space_ids is not None:
            spaces = spaces.filter(pk__in=space_ids)
            if len(space_ids) == 1:
                self.fields["space"].initial = next(iter(space_ids))
        self.fields["space"].queryset = spaces

    def clean(self):
        cleaned = super().clean()
        space, start, end = cleaned.get("space"), cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", gettext("The last day cannot be before the first day."))
        elif start and end and (end - start).days >= self.MAX_DAYS:
            self.add_error("end_date", gettext("A closure lasts at most a year."))
        if space and start and start < localtime.local_date(self.now, space.tz):
            self.add_error("start_date", gettext("A closure starts today or later."))
        return cleaned


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
    list_filter = [
        "status",
        MemberSuspendedFilter,
        "part",
        # Only the spaces of the manager's bookings, never the names of the other spaces.
        ("space", admin.RelatedOnlyFieldListFilter),
        "is_desk",
        "local_date",
    ]
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
        return _runs_a_space(request)

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

    # --- manager pages: book for a member, close the space ----------------------------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("book/", view(self.book_for_member_view), name="bookings_booking_book_for_member"),
            path("close/", view(self.close_space_view), name="bookings_booking_close_space"),
            path(
                "member-autocomplete/",
                view(self.member_autocomplete_view),
                name="bookings_booking_member_autocomplete",
            ),
            *super().get_urls(),
        ]

    def _page(self, request, template: str, context: dict) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, **context},
        )

    AUTOCOMPLETE_PAGE = 20

    def member_autocomplete_view(self, request):
        """The members a manager may book for, as the admin's autocomplete widget expects them. The
        members of the manager's spaces (who booked or hold a pass there) are found by part of their name
        or e-mail address; any other active member by their exact e-mail address only: a manager books
        for a newcomer who gives their address, but does not browse the network's members."""
        if not _runs_a_space(request):
            raise PermissionDenied
        term = " ".join(request.GET.get("term", "").split())[:100]
        try:
            page = max(int(request.GET.get("page", 1)), 1)
        except ValueError:
            page = 1
        members = bookable_members()
        space_ids = _space_ids(request)
        matches = Q()
        if term:
            matches = (
                Q(email__icontains=term)
                | Q(member__display_name__icontains=term)
                | Q(member__billing_name__icontains=term)
                | Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
            )
        if space_ids is None:
            members = members.filter(matches)
        else:
            # Who booked in, or holds a pass of (through the account's `passes`), a space they run.
            booked = Booking.objects.filter(member=OuterRef("pk"), space_id__in=space_ids)
            holds_a_pass = User.objects.filter(pk=OuterRef("pk"), passes__space_id__in=space_ids)
            known = Q(Exists(booked)) | Q(Exists(holds_a_pass))
            members = members.filter((known & matches) | Q(email__iexact=term) if term else known)
        members = members.select_related("member").order_by("member__display_name", "email", "pk")
        start = (page - 1) * self.AUTOCOMPLETE_PAGE
        rows = list(members[start : start + self.AUTOCOMPLETE_PAGE + 1])
        return JsonResponse(
            {
                "results": [
                    {"id": str(user.pk), "text": member_label(user)}
                    for user in rows[: self.AUTOCOMPLETE_PAGE]
                ],
                "pagination": {"more": len(rows) > self.AUTOCOMPLETE_PAGE},
            }
        )

    def book_for_member_view(self, request):
        """A desk or a room booked for a member (who calls, or is at the desk): the member's entitlements
        apply as if they booked themselves, and they receive the confirmation e-mail."""
        if not _runs_a_space(request):
            raise PermissionDenied
        now = timezone.now()
        form = BookForMemberForm(
            request.POST or None, admin_site=self.admin_site, space_ids=_space_ids(request)
        )
        if request.method == "POST" and form.is_valid():
            member = form.cleaned_data["member"]
            try:
                booking = services.booking_create_for_member(
                    member=member, slot=form.slot(), now=now, by=request.user
                )
            except BookingError as error:
                form.add_error(None, _manager_message(error))
            else:
                message = gettext(
                    "%(booking)s booked for %(member)s; they receive the confirmation by e-mail."
                )
                params = {"booking": booking, "member": member.member.name}
                self.message_user(request, message % params, messages.SUCCESS)
                return redirect(reverse("admin:bookings_booking_change", args=[booking.pk]))
        return self._page(
            request,
            "admin/bookings/booking/book_for_member.html",
            {"title": _("Book for a member"), "form": form, "media": self.media + form.media},
        )

    def close_space_view(self, request):
        """Closing a space for some days: the form, then the bookings it would cancel, then (confirmed)
        the closure, the cancellations and each member told by e-mail with the reason."""
        if not _runs_a_space(request):
            raise PermissionDenied
        now = timezone.now()
        form = CloseSpaceForm(request.POST or None, space_ids=_space_ids(request), now=now)
        affected = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if "confirm" in request.POST:
                try:
                    closure, cancelled = services.space_close(
                        space=data["space"],
                        start_date=data["start_date"],
                        end_date=data["end_date"],
                        reason=data["reason"],
                        by=request.user,
                        now=now,
                    )
                except BookingError as error:
                    form.add_error(None, error.message)
                else:
                    message = ngettext(
                        "%(space)s is closed from %(start)s to %(end)s; %(count)d booking was cancelled "
                        "and its member told by e-mail.",
                        "%(space)s is closed from %(start)s to %(end)s; %(count)d bookings were cancelled "
                        "and their members told by e-mail.",
                        len(cancelled),
                    ) % {
                        "space": closure.space.name,
                        "start": date_format(closure.start_date, "DATE_FORMAT"),
                        "end": date_format(closure.end_date, "DATE_FORMAT"),
                        "count": len(cancelled),
                    }
                    self.message_user(request, message, messages.SUCCESS)
                    return redirect(reverse("admin:bookings_booking_changelist"))
            elif "edit" not in request.POST:
                affected = list(
                    services.bookings_affected_by_closure(
                        space=data["space"], start_date=data["start_date"], end_date=data["end_date"]
                    ).filter(end__gt=now)
                )
        return self._page(
            request,
            "admin/bookings/booking/close_space.html",
            {
                "title": _("Close the space"),
                "form": form,
                "affected": affected,
                "confirming": affected is not None,
                "media": self.media + form.media,
            },
        )
