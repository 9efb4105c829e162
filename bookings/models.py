from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class DayPart(models.TextChoices):
    FULL_DAY = "full_day", _("Full day")
    MORNING = "morning", _("Morning")
    AFTERNOON = "afternoon", _("Afternoon")
    SLOT = "slot", _("Time slot")


class BookingQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=BookingStatus.CONFIRMED)

    def overlapping(self, start, end):
        # Half-open ranges [start, end): touching bookings do not overlap.
        return self.filter(start__lt=end, end__gt=start)


class Booking(models.Model):
    """A resource held by a member for [start, end).

    Invariants kept by the database on PostgreSQL (exclusion constraints, migration 0002): two confirmed
    bookings of one resource never overlap, and a member never holds two desks at once. On SQLite the
    service checks inside an IMMEDIATE transaction, which serialises writers.
    """

    # No index of their own for resource and member: (resource, start) and (member, start) lead with them.
    # Every index is written by every booking, so none is kept that another already serves.
    resource = models.ForeignKey(
        "spaces.Resource", on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    # Denormalised from the resource so that a space's day is read with one index range scan.
    space = models.ForeignKey("spaces.Space", on_delete=models.PROTECT, related_name="bookings")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    local_date = models.DateField(_("day"), help_text=_("The day at the space on which the booking starts."))
    part = models.CharField(_("part of the day"), max_length=10, choices=DayPart.choices)
    is_desk = models.BooleanField(editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)
    # booked_by and cancelled_by are empty on most rows: their indexes hold only the others (see Meta), so
    # that a member's own booking does not write them; deleting a user still finds their rows by index.
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    # Outbox: the e-mail a change owes the member is recorded with the change itself; a task sends it
    # right after commit and a periodic sweep sends whatever a broker outage left behind.
    confirmation_pending = models.BooleanField(default=True, editable=False)
    cancellation_notice_pending = models.BooleanField(default=False, editable=False)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="booking_ends_after_start"),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False)
                | Q(status="confirmed", cancelled_at__isnull=True),
                name="booking_cancelled_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["resource", "start"], name="booking_resource_start"),
            models.Index(
                fields=["space", "local_date"], name="booking_space_day", condition=Q(status="confirmed")
            ),
            models.Index(fields=["member", "-start"], name="booking_member_start"),
            models.Index(
                fields=["booked_by"], name="booking_booked_by", condition=Q(booked_by__isnull=False)
            ),
            models.Index(
                fields=["cancelled_by"], name="booking_cancelled_by", condition=Q(cancelled_by__isnull=False)
            ),
            models.Index(
                fields=["confirmation_pending"],
                name="booking_confirmation_pending",
                condition=Q(confirmation_pending=True),
            ),
            models.Index(
                fields=["cancellation_notice_pending"],
                name="booking_cancel_notice_pending",
                condition=Q(cancellation_notice_pending=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.local_date} {self.get_part_display()}"

    @property
    def is_active(self) -> bool:
        return self.status == BookingStatus.CONFIRMED


class CalendarFeed(models.Model):
    """A member's private iCalendar feed: the secret token in its URL is the only credential."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"{self.member}"
