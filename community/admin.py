"""Moderation and events in the admin. A manager sees the posts and events of the spaces they run (posts to
the whole network are for superusers), hides or deletes posts (with the reports members sent), approves
or rejects members' events, and creates and edits their own. Writes with a rule go through
community.services; every page is scoped by spaces.admin_scoping."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from community import services
from community.models import Event, EventStatus, Post, PostReport, Rsvp, RsvpStatus, TalkProposal
from spaces import localtime
from spaces.admin_scoping import ManagedSpacesAdminMixin, ManagedSpacesInlineMixin


class PostReportInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = PostReport
    space_path = "post__space"
    parent_space_path = "space"
    extra = 0
    fields = ["reason", "reporter", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Post)
class PostAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    list_display = ["title", "kind", "space", "status", "hidden", "report_count", "expires_on", "created_at"]
    list_filter = [("space", admin.RelatedOnlyFieldListFilter), "kind", "status", "hidden"]
    list_select_related = ["space"]
    search_fields = ["title", "body"]
    ordering = ["-created_at", "-pk"]  # explicit: Meta.ordering does not apply to the annotated query
    manager_can_add = False
    fields = ["kind", "title", "body", "space", "author", "expires_on", "status", "created_at", "hidden"]
    readonly_fields = ["kind", "title", "body", "space", "author", "expires_on", "status", "created_at"]
    inlines = [PostReportInline]
    actions = ["hide_posts", "show_posts"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(report_count=Count("reports"))

    @admin.display(description=_("reports"), ordering="report_count")
    def report_count(self, obj) -> int:
        return obj.report_count

    def save_model(self, request, obj, form, change):
        # Only `hidden` is editable: moderation goes through the service, with its audit entry.
        if change and "hidden" in form.changed_data:
            services.post_set_hidden(post=Post.objects.get(pk=obj.pk), hidden=obj.hidden, by=request.user)
        elif not change:
            super().save_model(request, obj, form, change)

    def _set_hidden(self, request, queryset, hidden: bool) -> int:
        count = 0
        for post in queryset:
            if post.hidden != hidden:
                services.post_set_hidden(post=post, hidden=hidden, by=request.user)
                count += 1
        return count

    @admin.action(description=_("Hide the selected posts"))
    def hide_posts(self, request, queryset):
        count = self._set_hidden(request, queryset, True)
        self.message_user(
            request, ngettext("%d post hidden.", "%d posts hidden.", count) % count, messages.SUCCESS
        )

    @admin.action(description=_("Show the selected posts again"))
    def show_posts(self, request, queryset):
        count = self._set_hidden(request, queryset, False)
        self.message_user(
            request, ngettext("%d post shown.", "%d posts shown.", count) % count, messages.SUCCESS
        )


class RsvpInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = Rsvp
    space_path = "event__space"
    parent_space_path = "space"
    extra = 0
    fields = ["user", "status", "requested_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TalkProposalInline(ManagedSpacesInlineMixin, admin.TabularInline):
    model = TalkProposal
    space_path = "event__space"
    parent_space_path = "space"
    extra = 0
    fields = ["title", "author", "summary"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventAdminForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = [
            "space",
            "kind",
            "title",
            "description",
            "start",
            "end",
            "capacity",
            "open_to_non_members",
            "no_pass_needed",
            "accepts_proposals",
        ]
        help_texts = {
            "start": _("In the space's local time."),
            "end": _("In the space's local time."),
        }

    def clean(self):
        # The admin reads the times in the active time zone (the event's space's, set by the admin's
        # view for an existing event); the wall-clock time typed means the chosen space's zone.
        data = super().clean()
        space = data.get("space")
        if space is None:
            return data
        current = timezone.get_current_timezone()
        for name in ("start", "end"):
            value = data.get(name)
            if value is None:
                continue
            naive = value.astimezone(current).replace(tzinfo=None)
            try:
                data[name] = localtime.local_instant(naive.date(), naive.time(), space.tz)
            except localtime.NonExistentLocalTime:
                self.add_error(name, _("This time does not exist on that day (the clocks go forward)."))
        return data


@admin.register(Event)
class EventAdmin(ManagedSpacesAdminMixin, admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["title", "kind", "space", "start", "status", "capacity", "seats_taken"]
    list_filter = [("space", admin.RelatedOnlyFieldListFilter), "kind", "status"]
    list_select_related = ["space"]
    search_fields = ["title", "description"]
    ordering = ["-start", "-pk"]
    readonly_fields = ["status", "created_by", "approved_by", "approved_at"]
    inlines = [RsvpInline, TalkProposalInline]
    actions = ["approve_events", "reject_events"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(seats=Count("rsvps", filter=Q(rsvps__status=RsvpStatus.GOING)))
        )

    @admin.display(description=_("seats taken"), ordering="seats")
    def seats_taken(self, obj) -> int:
        return obj.seats

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        event = self.get_object(request, object_id) if object_id else None
        if event is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(event.space.tz):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            # An event a manager creates is theirs to publish: approved at once.
            obj.created_by = request.user
            obj.status = EventStatus.APPROVED
            obj.approved_by = request.user
            obj.approved_at = now
        super().save_model(request, obj, form, change)
        if change and "capacity" in form.changed_data:
            services.event_fill_seats(event=obj, now=now)

    def _decide(self, request, queryset, approve: bool) -> int:
        count = 0
        for event in queryset.filter(status=EventStatus.PENDING):
            services.event_decide(event=event, by=request.user, approve=approve, now=timezone.now())
            count += 1
        return count

    @admin.action(description=_("Approve the selected events"))
    def approve_events(self, request, queryset):
        count = self._decide(request, queryset, True)
        self.message_user(
            request, ngettext("%d event approved.", "%d events approved.", count) % count, messages.SUCCESS
        )

    @admin.action(description=_("Reject the selected events"))
    def reject_events(self, request, queryset):
        count = self._decide(request, queryset, False)
        self.message_user(
            request, ngettext("%d event rejected.", "%d events rejected.", count) % count, messages.SUCCESS
        )
