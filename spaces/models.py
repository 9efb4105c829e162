import zoneinfo
from datetime import date, time
from decimal import Decimal
from functools import cached_property

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from spaces import localtime


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known IANA time zone."), params={"value": value})


class Country(models.TextChoices):
    FRANCE = "FR", _("France")
    BELGIUM = "BE", _("Belgium")


class Weekday(models.IntegerChoices):
    MONDAY = 0, pgettext_lazy("weekday", "Monday")
    TUESDAY = 1, pgettext_lazy("weekday", "Tuesday")
    WEDNESDAY = 2, pgettext_lazy("weekday", "Wednesday")
    THURSDAY = 3, pgettext_lazy("weekday", "Thursday")
    FRIDAY = 4, pgettext_lazy("weekday", "Friday")
    SATURDAY = 5, pgettext_lazy("weekday", "Saturday")
    SUNDAY = 6, pgettext_lazy("weekday", "Sunday")


class Space(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    city = models.CharField(_("city"), max_length=80)
    street_address = models.CharField(_("street address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=12)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices, default=Country.FRANCE)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="EUR", validators=[RegexValidator(r"^[A-Z]{3}$")]
    )
    vat_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("20.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    description = models.TextField(_("description"), blank=True)
    photo = models.ImageField(_("photo"), upload_to="spaces/", blank=True)
    email = models.EmailField(_("contact e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    # The issuing company, printed on invoices (France: CGI ann. II 242 nonies A; Belgium: CSA 2:20).
    legal_name = models.CharField(_("legal name"), max_length=200)
    legal_form = models.CharField(
        _("legal form"), max_length=60, blank=True, help_text=_("e.g. SAS, SARL, SRL")
    )
    share_capital = models.CharField(_("share capital"), max_length=40, blank=True)
    registration_number = models.CharField(
        _("registration number"),
        max_length=40,
        help_text=_("SIREN in France, enterprise number in Belgium"),
    )
    registry = models.CharField(
        _("trade registry"),
        max_length=80,
        blank=True,
        help_text=_("e.g. RCS Lille Métropole, RPM Bruxelles"),
    )
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    vat_on_debits = models.BooleanField(
        _("VAT on debits"),
        default=False,
        help_text=_(
            "France: the company opted to pay VAT when invoicing rather than when paid; invoices say so."
        ),
    )
    bank_iban = models.CharField(
        _("IBAN"), max_length=34, blank=True, help_text=_("Printed on invoices for payment by bank transfer.")
    )
    bank_bic = models.CharField(_("BIC"), max_length=11, blank=True)
    invoice_prefix = models.CharField(
        _("invoice prefix"),
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9]{2,8}$", _("2 to 8 capital letters or digits."))],
        help_text=_("Starts every invoice number of this space, e.g. LIL in LIL-2026-00042."),
    )

    half_day_split = models.TimeField(
        _("half-day split"),
        default=time(13, 0),
        help_text=_("Mornings end and afternoons start at this time."),
    )
    booking_window_days = models.PositiveSmallIntegerField(
        _("booking window (days)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text=_("How many days ahead members may book."),
    )
    cancellation_cutoff_hours = models.PositiveSmallIntegerField(
        _("cancellation cut-off (hours)"),
        default=24,
        validators=[MaxValueValidator(24 * 30)],
        help_text=_("Members may cancel until this many hours before the booking starts."),
    )
    desks_need_pass = models.BooleanField(
        _("desks need a pass"),
        default=True,
        help_text=_(
            "Members need a pass or a day credit to book a desk (without one they are offered a day pass). "
            "Untick for a space whose desks are free, such as an association or an open week."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["city", "name"]
        verbose_name = _("space")
        verbose_name_plural = _("spaces")
        constraints = [
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0, vat_rate__lte=100),
                name="space_vat_rate_is_a_percentage",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("spaces:detail", kwargs={"slug": self.slug})

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def day_bounds(self, day: date) -> localtime.Interval:
        return localtime.day_bounds(day, self.tz)

    def half_day_bounds(self, day: date) -> tuple[localtime.Interval, localtime.Interval]:
        return localtime.half_day_bounds(day, self.tz, self.half_day_split)


class OpeningHours(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["space", "weekday"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.UniqueConstraint(fields=["space", "weekday"], name="opening_hours_one_per_weekday"),
            models.CheckConstraint(
                condition=Q(opens__lt=F("closes")), name="opening_hours_open_before_close"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValidationError({"closes": _("The closing time must be after the opening time.")})


class Closure(models.Model):
    """Days a space is closed although its weekly hours say open (holidays, works)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="closures")
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["space", "start_date"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")), name="closure_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["space", "end_date"])]

    def __str__(self) -> str:
        return f"{self.space}: {self.start_date} - {self.end_date}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The last day cannot be before the first day.")})


class Zone(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["space", "position", "name"]
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        constraints = [models.UniqueConstraint(fields=["space", "name"], name="zone_name_unique_per_space")]

    def __str__(self) -> str:
        return f"{self.space} / {self.name}"


class ResourceKind(models.TextChoices):
    HOT_DESK = "hot_desk", _("Hot desk")
    DEDICATED_DESK = "dedicated_desk", _("Dedicated desk")
    MEETING_ROOM = "meeting_room", _("Meeting room")
    PRIVATE_OFFICE = "private_office", _("Private office")


class Resource(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="resources")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="resources")
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    name = models.CharField(_("name"), max_length=80)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=1, validators=[MinValueValidator(1)])
    amenities = models.CharField(
        _("amenities"),
        max_length=300,
        blank=True,
        help_text=_("Comma-separated, e.g. screen, standing desk"),
    )
    min_booking_minutes = models.PositiveSmallIntegerField(
        _("minimum booking (minutes)"),
        default=30,
        validators=[MinValueValidator(30)],
        help_text=_("Meeting rooms: the shortest booking allowed, in steps of 30 minutes."),
    )
    max_booking_minutes = models.PositiveSmallIntegerField(
        _("maximum booking (minutes)"),
        default=480,
        validators=[MinValueValidator(30), MaxValueValidator(24 * 60)],
        help_text=_("Meeting rooms: the longest booking allowed."),
    )
    hourly_price = models.DecimalField(
        _("price per hour excl. VAT"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Meeting rooms: charged per hour beyond the hours a member's plan includes."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["space", "zone__position", "position", "name"]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        constraints = [
            models.UniqueConstraint(fields=["space", "name"], name="resource_name_unique_per_space"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="resource_capacity_positive"),
            models.CheckConstraint(
                condition=Q(min_booking_minutes__lte=F("max_booking_minutes")),
                name="resource_booking_minimum_below_maximum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        if self.zone_id and self.space_id and self.zone.space_id != self.space_id:
            raise ValidationError({"zone": _("This zone belongs to another space.")})
        if self.min_booking_minutes and self.max_booking_minutes:
            if self.min_booking_minutes > self.max_booking_minutes:
                raise ValidationError(
                    {"max_booking_minutes": _("The maximum must not be below the minimum.")}
                )
            if self.min_booking_minutes % 30 or self.max_booking_minutes % 30:
                raise ValidationError(_("Booking durations are counted in steps of 30 minutes."))

    @property
    def is_desk(self) -> bool:
        return self.kind in DESK_KINDS

    @property
    def is_room(self) -> bool:
        return not self.is_desk


# Desks are booked by the day or half day; every other kind by the half hour.
DESK_KINDS = frozenset({ResourceKind.HOT_DESK, ResourceKind.DEDICATED_DESK})
