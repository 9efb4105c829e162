"""Plans and their price tiers, members' passes and periods, invoices, payments and the credit ledger.

Money is Decimal(12, 2) with a currency code; amounts are computed by billing.pricing and rounded once,
by billing.money.round_money. Issued invoices and credit notes are never edited (save() refuses), and
their numbers come from InvoiceSequence inside the issuing transaction (billing.services.invoice_issue).
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from billing import pricing
from spaces.models import Space

MONEY = {"max_digits": 12, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


class PlanKind(models.TextChoices):
    DAY_PASS = pricing.PlanKind.DAY_PASS.value, _("Day pass")
    PACK_10 = pricing.PlanKind.PACK_10.value, _("10-day pack")
    MONTHLY = pricing.PlanKind.MONTHLY.value, _("Monthly pass")
    ANNUAL = pricing.PlanKind.ANNUAL.value, _("Annual pass")
    ROLLING_DAY = pricing.PlanKind.ROLLING_DAY.value, _("Rolling day pass")


# Kinds that renew by themselves period after period (auto-renew), and the months in one period.
RENEWING_KINDS = {PlanKind.MONTHLY, PlanKind.ANNUAL, PlanKind.ROLLING_DAY}
PERIOD_MONTHS = {PlanKind.MONTHLY: 1, PlanKind.ANNUAL: 12}


class DeskAccess(models.TextChoices):
    NONE = "none", _("No desk")
    HOT_DESK = "hot_desk", _("Hot desk")
    DEDICATED_DESK = "dedicated_desk", _("Dedicated desk (includes hot desks)")


class Plan(models.Model):
    """A catalogue entry: what a pass of this plan gives, and its price excluding VAT per period."""

    space = models.ForeignKey(
        Space,
        verbose_name=_("space"),
        on_delete=models.PROTECT,
        related_name="plans",
        help_text=_("The space that sells it and issues its invoices."),
    )
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=PlanKind.choices)
    unit_price = models.DecimalField(
        _("price excl. VAT"),
        **MONEY,
        validators=NON_NEGATIVE,
        help_text=_("Per day for a day pass, per pack, per month or per year; tiers below may lower it."),
    )
    desk_access = models.CharField(
        _("desk access"), max_length=20, choices=DeskAccess.choices, default=DeskAccess.HOT_DESK
    )
    desk_days = models.PositiveSmallIntegerField(
        _("day credits"),
        default=0,
        help_text=_("For a pack: the desk days it gives (10 for a 10-day pack)."),
    )
    room_hours = models.PositiveSmallIntegerField(
        _("meeting-room hours per period"), default=0, help_text=_("Hours of meeting rooms included.")
    )
    network_access = models.BooleanField(
        _("access to the network"), default=False, help_text=_("Also valid in the network's other spaces.")
    )
    validity_months = models.PositiveSmallIntegerField(
        _("validity (months)"), default=6, help_text=_("For a pack: how long its day credits stay usable.")
    )
    nominal_days = models.PositiveSmallIntegerField(
        _("working days per period"),
        null=True,
        blank=True,
        help_text=_("For the price per day shown to members; empty means the usual for the kind."),
    )
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["space", "position", "unit_price"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=~Q(kind=PlanKind.PACK_10) | Q(desk_days__gt=0), name="plan_pack_has_days"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.space.name} · {self.name}"

    @property
    def renews(self) -> bool:
        return self.kind in RENEWING_KINDS

    def terms(self, tiers=None) -> pricing.PlanTerms:
        """The pure pricing terms of this plan (tiers: PriceTier rows, read from the database if None)."""
        rows = self.tiers.all() if tiers is None else tiers
        return pricing.PlanTerms(
            kind=pricing.PlanKind(self.kind),
            unit_price=self.unit_price,
            tiers=tuple(pricing.Tier(t.first_period, t.unit_price) for t in rows),
            nominal_days=self.nominal_days,
            currency=self.space.currency,
        )

    def clean(self) -> None:
        if self.kind == PlanKind.PACK_10 and not self.desk_days:
            raise ValidationError({"desk_days": _("A pack gives at least one day credit.")})


class PriceTier(models.Model):
    """From the k-th consecutive period of a pass on, its price is this one (until the next tier)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tiers")
    first_period = models.PositiveSmallIntegerField(
        _("from period"), validators=[MinValueValidator(1)], help_text=_("1 is the first period.")
    )
    unit_price = models.DecimalField(_("price excl. VAT"), **MONEY, validators=NON_NEGATIVE)

    class Meta:
        verbose_name = _("price tier")
        verbose_name_plural = _("price tiers")
        ordering = ["plan", "first_period"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "first_period"], name="price_tier_unique_start"),
            models.CheckConstraint(condition=Q(first_period__gte=1), name="price_tier_starts_at_one"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_tier_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name}: {self.first_period}+ → {self.unit_price}"


class PassStatus(models.TextChoices):
    # Bought by card, until Stripe confirms the first payment (billing.cards): not usable yet.
    PENDING = "pending", _("Awaiting payment")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


# The only place that says which status may follow which (billing.services.pass_transition enforces it).
PASS_TRANSITIONS: dict[str, frozenset[str]] = {
    PassStatus.PENDING: frozenset({PassStatus.ACTIVE, PassStatus.CANCELLED}),
    PassStatus.ACTIVE: frozenset({PassStatus.PAST_DUE, PassStatus.CANCELLED, PassStatus.EXPIRED}),
    PassStatus.PAST_DUE: frozenset({PassStatus.ACTIVE, PassStatus.SUSPENDED, PassStatus.CANCELLED}),
    PassStatus.SUSPENDED: frozenset({PassStatus.ACTIVE, PassStatus.CANCELLED}),
    PassStatus.CANCELLED: frozenset(),
    PassStatus.EXPIRED: frozenset(),
}
# Statuses under which a pass still lets its member book (past due: until the grace period ends).
USABLE_STATUSES = (PassStatus.ACTIVE, PassStatus.PAST_DUE)


class Pass(models.Model):
    """One member's instance of a plan; each period keeps the price it was sold at."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("member"), on_delete=models.PROTECT, related_name="passes"
    )
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="passes")
    space = models.ForeignKey(Space, verbose_name=_("space"), on_delete=models.PROTECT, related_name="passes")
    kind = models.CharField(_("kind"), max_length=20, choices=PlanKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=PassStatus.choices, default=PassStatus.ACTIVE
    )
    anchor_date = models.DateField(_("start date"), help_text=_("Periods are counted from this day."))
    auto_renew = models.BooleanField(_("renews automatically"), default=True)
    past_due_since = models.DateField(_("past due since"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(_("payment reminders sent"), default=0)
    renewal_notice_for = models.DateField(
        _("renewal notice sent for"),
        null=True,
        blank=True,
        help_text=_("Start of the period whose price the last renewal reminder announced."),
    )
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = pgettext_lazy("membership", "pass")
        verbose_name_plural = pgettext_lazy("membership", "passes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["member", "status"]),
            models.Index(fields=["status", "auto_renew"]),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name} · {self.member}"


class PassPeriod(models.Model):
    """A period of a pass with the price snapshot it was sold at. (pass, start_date) is unique: this
    is the key that makes a second renewal of the same period a no-op."""

    pass_obj = models.ForeignKey(Pass, on_delete=models.CASCADE, related_name="periods", db_column="pass_id")
    number = models.PositiveIntegerField(_("period number"), help_text=_("1 for the first period."))
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to (included)"))
    unit_price = models.DecimalField(_("price excl. VAT"), **MONEY)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    invoice = models.ForeignKey(
        "Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="pass_periods"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pass period")
        verbose_name_plural = _("pass periods")
        ordering = ["pass_obj", "start_date"]
        constraints = [
            models.UniqueConstraint(fields=["pass_obj", "start_date"], name="pass_period_once"),
            models.UniqueConstraint(fields=["pass_obj", "number"], name="pass_period_number_once"),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="pass_period_order"
            ),
        ]
        indexes = [models.Index(fields=["end_date"])]

    def __str__(self) -> str:
        return f"{self.pass_obj_id} #{self.number}: {self.start_date} - {self.end_date}"


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    PAID = "paid", _("Paid")
    CREDITED = "credited", _("Cancelled by a credit note")


class InvoiceSequence(models.Model):
    """The last number issued per space, year and kind: locked by each issue, so numbers never collide
    and never skip, even when two invoices are issued at the same moment."""

    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "year", "kind"], name="invoice_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.space_id} {self.year} {self.kind}: {self.last_number}"


class IssuedDocumentError(Exception):
    """An issued invoice or credit note is never edited: corrections are credit notes."""


class Invoice(models.Model):
    """An invoice or a credit note, issued (numbered) at creation, immutable afterwards.

    Seller and buyer are snapshots: editing a space or a member profile, or erasing a member, never
    changes an issued document (retention is 10 years)."""

    kind = models.CharField(
        _("kind"), max_length=20, choices=DocumentKind.choices, default=DocumentKind.INVOICE
    )
    space = models.ForeignKey(
        Space, verbose_name=_("issuing space"), on_delete=models.PROTECT, related_name="+"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    number = models.CharField(_("number"), max_length=40, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    status = models.CharField(
        _("status"), max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED
    )
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects invoice"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
    )
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    service_start = models.DateField(_("service from"), null=True, blank=True)
    service_end = models.DateField(_("service to"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    net = models.DecimalField(_("total excl. VAT"), **MONEY)
    vat = models.DecimalField(_("VAT"), **MONEY)
    gross = models.DecimalField(_("total incl. VAT"), **MONEY)
    language = models.CharField(_("language"), max_length=8, default="fr")
    seller = models.JSONField(_("seller"), help_text=_("The issuing space's legal details at issue."))
    buyer = models.JSONField(_("buyer"), help_text=_("The member's billing details at issue."))
    vat_note = models.CharField(_("VAT mention"), max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True, null=True, blank=True, editable=False)
    content_hash = models.CharField(_("SHA-256 of the content"), max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["space", "year", "kind", "sequence"], name="invoice_number_once"),
        ]
        indexes = [
            models.Index(fields=["member", "-issue_date"]),
            models.Index(fields=["space", "status", "due_date"]),
        ]

    def __str__(self) -> str:
        return self.number

    # Only the payment status changes after issue, and billing.services sets it with update().
    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise IssuedDocumentError(self.number)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise IssuedDocumentError(self.number)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == DocumentKind.CREDIT_NOTE


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2)
    unit_price = models.DecimalField(_("unit price excl. VAT"), **MONEY)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    net = models.DecimalField(_("excl. VAT"), **MONEY)
    vat = models.DecimalField(_("VAT"), **MONEY)
    gross = models.DecimalField(_("incl. VAT"), **MONEY)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise IssuedDocumentError(str(self.invoice_id))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise IssuedDocumentError(str(self.invoice_id))


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    TRANSFER = "transfer", _("Bank transfer")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    OFFLINE = "offline", _("To be paid at the desk or by transfer")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    # A card payment the bank wants the member to confirm (3-D Secure): they are e-mailed a link.
    ACTION_REQUIRED = "action_required", _("Awaiting the member's confirmation")
    SUCCEEDED = "succeeded", _("Received")
    FAILED = "failed", _("Failed")


# The only moves a card payment may make, whatever order Stripe's events arrive in: a payment that
# succeeded never goes back, and a failed one may still succeed (the same PaymentIntent retried).
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.ACTION_REQUIRED, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}
    ),
    PaymentStatus.ACTION_REQUIRED: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.SUCCEEDED: frozenset(),
}


class Payment(models.Model):
    """A payment attempt or a received payment against an invoice. Only succeeded payments count."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    status = models.CharField(_("status"), max_length=20, choices=PaymentStatus.choices)
    received_on = models.DateField(_("received on"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    gateway = models.CharField(max_length=30, default="offline")
    idempotency_key = models.CharField(max_length=120, unique=True, null=True, blank=True, editable=False)
    # Card payments: Stripe's PaymentIntent, and the Checkout Session that created it (if any).
    intent_id = models.CharField(_("Stripe PaymentIntent"), max_length=255, blank=True, default="")
    checkout_session_id = models.CharField(
        _("Stripe Checkout Session"), max_length=255, blank=True, default=""
    )
    refunded = models.DecimalField(_("refunded"), **MONEY, default=Decimal("0"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
            # A refund never exceeds what was paid (billing.cards.payment_refund locks the row first).
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount")),
                name="payment_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["intent_id"], condition=~Q(intent_id=""), name="payment_intent_once"
            ),
            models.UniqueConstraint(
                fields=["checkout_session_id"],
                condition=~Q(checkout_session_id=""),
                name="payment_checkout_session_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["gateway", "status"],
                name="payment_card_open",
                condition=Q(status__in=["pending", "action_required"]) & ~Q(gateway="offline"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_status_display()}"


class CreditKind(models.TextChoices):
    DESK_DAY = "desk_day", _("Desk day")
    ROOM_MINUTES = "room_minutes", _("Meeting-room minutes")


class CreditEntry(models.Model):
    """Append-only ledger of day credits and meeting-room minutes.

    A grant (positive amount, grant=None) expires on expires_on; a use (negative amount) points to the
    grant it draws on and to what consumed it (reference, e.g. "booking:123"); a return is a positive
    entry on the same grant and reference. A grant's balance is the sum of its entries."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_entries"
    )
    kind = models.CharField(max_length=20, choices=CreditKind.choices)
    amount = models.IntegerField()
    grant = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    expires_on = models.DateField(null=True, blank=True)
    source_pass = models.ForeignKey(Pass, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reference = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("credit entry")
        verbose_name_plural = _("credit entries")
        indexes = [models.Index(fields=["member", "kind", "expires_on"]), models.Index(fields=["reference"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(grant__isnull=True, amount__gt=0, expires_on__isnull=False) | Q(grant__isnull=False)
                ),
                name="credit_grant_positive_with_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d}"


class NoticeKind(models.TextChoices):
    PAYMENT_REMINDER = "payment_reminder", _("Payment reminder")
    SUSPENSION = "suspension", _("Suspension")
    RENEWAL_NOTICE = "renewal_notice", _("Renewal notice")
    PAYMENT_ACTION = "payment_action", _("Card payment to confirm")
    CARD_REMOVED = "card_removed", _("Card removed")
    REFUND = "refund", _("Refund")


class Notice(models.Model):
    """The log of the e-mails billing owes or sent about a pass (payment reminders, suspension, the
    notice before a renewal that consumer law asks for). `key` is unique: recording a notice twice is a
    no-op, so the dunning job can run twice or concurrently and a member gets each e-mail once. The
    row is written with the change that causes it; `sent_at` is set once the e-mail has gone."""

    # Empty for the card e-mails about no pass (a card removed, a refund of a room booking).
    pass_obj = models.ForeignKey(
        Pass,
        on_delete=models.PROTECT,
        related_name="notices",
        db_column="pass_id",
        verbose_name=_("pass"),
        null=True,
        blank=True,
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="notices"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NoticeKind.choices)
    key = models.CharField(max_length=120, unique=True, editable=False)
    email = models.EmailField(_("sent to"))
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["sent_at"], name="notice_unsent", condition=Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.email}"


class CardAccount(models.Model):
    """A member's Stripe Customer (created when first needed) and the card saved on it for off-session
    renewals. Only Stripe's ids and what the member needs to recognise the card are kept: never a card
    number (PCI DSS, SAQ A)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="card_account"
    )
    customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True, default="")
    brand = models.CharField(_("card"), max_length=30, blank=True, default="")
    last4 = models.CharField(max_length=4, blank=True, default="")
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("saved card")
        verbose_name_plural = _("saved cards")

    def __str__(self) -> str:
        return f"{self.member_id} {self.brand} {self.last4}"

    @property
    def has_card(self) -> bool:
        return bool(self.payment_method_id)


class Refund(models.Model):
    """Money given back on a card payment, with the credit note that records it. Written (pending) in
    the transaction that issues the credit note; Stripe is called after commit with the row's own
    idempotency key, and the sweep retries one whose call did not get through."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being refunded")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Refund failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="refund")
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    refund_id = models.CharField(max_length=255, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive"),
            models.UniqueConstraint(fields=["refund_id"], condition=~Q(refund_id=""), name="refund_once"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_status_display()}"

    @property
    def idempotency_key(self) -> str:
        return f"refund:{self.pk}"


class WebhookEvent(models.Model):
    """Every Stripe event handled, by its id: the unique constraint makes a redelivered event, or two
    deliveries racing, take effect once. Written in the transaction that applies the event."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
