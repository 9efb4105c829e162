"""Reads on billing that other apps use: may this member hold a desk on this day, and with what (a pass
or a day credit); what a meeting room costs them after the hours their plan includes; their passes,
credits and the plans a space sells. billing never imports bookings: bookings asks here, and through
billing.services.entitlement_consume / entitlement_release, with opaque references ("booking:42")."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing import pricing
from billing.models import (
    PERIOD_MONTHS,
    USABLE_STATUSES,
    CreditEntry,
    CreditKind,
    DeskAccess,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
)
from spaces.models import Space
from spaces.prepared import PreparedQuery


@dataclass(frozen=True)
class DeskDecision:
    """Whether a member may book a desk: `reason` is None when allowed (by `pass_id`, or by a day credit
    to draw from `grant_id`), else a stable code: not_entitled, dedicated_plan_needed, suspended."""

    reason: str | None
    pass_id: int | None = None
    grant_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class RoomQuote:
    """What a meeting-room booking costs a member: minutes drawn from included hours, minutes charged."""

    minutes: int
    included_minutes: int
    charged_minutes: int
    hourly_price: Decimal
    line: pricing.Line | None

    @property
    def gross(self) -> Decimal:
        return self.line.gross if self.line else Decimal(0)


def _valid_in(space: Space) -> Q:
    # A pass is valid in its own space, and in the network's other spaces if its plan says so.
    return Q(space=space) | Q(plan__network_access=True)


def is_suspended(*, member_id: int) -> bool:
    """A member with a suspended pass (unpaid after the grace period) makes no new bookings."""
    return Pass.objects.filter(member_id=member_id, status=PassStatus.SUSPENDED).exists()


def suspended_passes() -> QuerySet[Pass]:
    return Pass.objects.filter(status=PassStatus.SUSPENDED)


def _balances(member_id: int, kind: str, space: Space, day: date) -> QuerySet[CreditEntry]:
    """The member's grants of `kind` usable in `space` on `day`, with their balance, soonest expiry
    first (so credits about to expire are used first)."""
    drawn = (
        CreditEntry.objects.filter(grant=OuterRef("pk"))
        .order_by()
        .values("grant")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        CreditEntry.objects.filter(
            member_id=member_id,
            kind=kind,
            grant__isnull=True,
            expires_on__gte=day,
            # Usable once the pass has started: its first period's start (its anchor moves when a
            # manager extends it, billing.services.pass_extend).
            source_pass__periods__number=1,
            source_pass__periods__start_date__lte=day,
            source_pass__status__in=USABLE_STATUSES,
        )
        .filter(Q(source_pass__space=space) | Q(source_pass__plan__network_access=True))
        .annotate(drawn=Coalesce(Subquery(drawn, output_field=IntegerField()), Value(0)))
        .order_by("expires_on", "pk")
    )


def credit_grants(*, member_id: int, kind: str, space: Space, day: date) -> list[tuple[int, int]]:
    """[(grant id, balance)] of the grants with something left, soonest expiry first."""
    rows = _balances(member_id, kind, space, day).values_list("pk", "amount", "drawn")
    return [(pk, amount + drawn) for pk, amount, drawn in rows if amount + drawn > 0]


def _covers(row: dict, space: Space, day: date) -> bool:
    """Whether one of the member's passes (a row of desk_decision's query) lets them hold a desk in
    `space` on `day`: a period holds the day, or the pass renews by itself and the day comes after its
    start (a monthly member books next month's days before next month's period exists)."""
    if row["status"] not in USABLE_STATUSES or row["kind"] == PlanKind.PACK_10:
        return False
    if row["plan__desk_access"] == DeskAccess.NONE:
        return False
    if row["space_id"] != space.pk and not row["plan__network_access"]:
        return False
    renews = row["auto_renew"] and row["status"] == PassStatus.ACTIVE and row["kind"] in PERIOD_MONTHS
    return row["holds_day"] or (renews and row["anchor_date"] <= day)


def _passes_for_desk(member_id: int, day: date) -> QuerySet:
    holds_day = PassPeriod.objects.filter(pass_obj=OuterRef("pk"), start_date__lte=day, end_date__gte=day)
    return (
        Pass.objects.filter(member_id=member_id, status__in=(*USABLE_STATUSES, PassStatus.SUSPENDED))
        .annotate(holds_day=Exists(holds_day))
        .order_by("pk")
        .values(
            "pk",
            "status",
            "kind",
            "auto_renew",
            "anchor_date",
            "space_id",
            "plan__network_access",
            "plan__desk_access",
            "holds_day",
        )
    )


# Every desk booking runs it: its SQL is built once (spaces.prepared).
_PASSES_FOR_DESK = PreparedQuery(_passes_for_desk, member_id=int, day=date)


def desk_decision(*, member_id: int, space: Space, day: date, dedicated: bool) -> DeskDecision:
    """One query for the member's passes (suspension and coverage), a second only when a day credit is
    needed: this runs on every desk booking."""
    rows = _PASSES_FOR_DESK.fetch(member_id=member_id, day=day)
    if any(row["status"] == PassStatus.SUSPENDED for row in rows):
        return DeskDecision("suspended")
    covering = [row for row in rows if _covers(row, space, day)]
    if dedicated:
        for row in covering:
            if row["plan__desk_access"] == DeskAccess.DEDICATED_DESK:
                return DeskDecision(None, pass_id=row["pk"])
        return DeskDecision("dedicated_plan_needed")
    if not space.desks_need_pass:
        return DeskDecision(None)
    if covering:
        return DeskDecision(None, pass_id=covering[0]["pk"])
    grants = credit_grants(member_id=member_id, kind=CreditKind.DESK_DAY, space=space, day=day)
    if grants:
        return DeskDecision(None, grant_id=grants[0][0])
    return DeskDecision("not_entitled")


def room_quote(
    *, member_id: int, space: Space, day: date, minutes: int, hourly_price: Decimal, description: str = ""
) -> RoomQuote:
    """Meeting rooms are priced per hour, less the minutes the member's plans still include that day."""
    available = sum(
        balance
        for _pk, balance in credit_grants(
            member_id=member_id, kind=CreditKind.ROOM_MINUTES, space=space, day=day
        )
    )
    included = min(available, minutes)
    charged = minutes - included
    line = None
    if charged and hourly_price > 0:
        hours = (Decimal(charged) / Decimal(60)).quantize(Decimal("0.01"))
        line = pricing.make_line(
            description, hours, hourly_price, space.vat_rate / Decimal(100), space.currency
        )
    return RoomQuote(minutes, included, charged, hourly_price, line)


def plans_on_sale(*, space: Space) -> QuerySet[Plan]:
    return (
        Plan.objects.filter(space=space, is_active=True).prefetch_related("tiers").order_by("position", "pk")
    )


def upgrade_plans(*, pass_obj: Pass) -> list[Plan]:
    """The plans on sale in the pass's space with a longer commitment: what it may be upgraded to."""
    order = pricing.COMMITMENT_ORDER
    rank = order.index(pricing.PlanKind(pass_obj.kind))
    return [
        plan
        for plan in plans_on_sale(space=pass_obj.space)
        if order.index(pricing.PlanKind(plan.kind)) > rank
    ]


def day_pass_plans(*, space: Space) -> QuerySet[Plan]:
    return plans_on_sale(space=space).filter(kind=PlanKind.DAY_PASS).exclude(desk_access=DeskAccess.NONE)


def member_passes(*, member_id: int) -> QuerySet[Pass]:
    return (
        Pass.objects.filter(member_id=member_id)
        .select_related("plan", "space")
        .prefetch_related(
            Prefetch("periods", queryset=PassPeriod.objects.select_related("invoice")), "plan__tiers"
        )
        .order_by("-created_at")
    )


def credit_summary(*, member_id: int, space: Space, day: date) -> dict[str, int]:
    """Day credits and meeting-room minutes left for the member in `space` on `day`."""
    return {
        kind: sum(b for _pk, b in credit_grants(member_id=member_id, kind=kind, space=space, day=day))
        for kind in (CreditKind.DESK_DAY, CreditKind.ROOM_MINUTES)
    }


def paid_desk_days(*, member_id: int, space: Space, since: date, until: date) -> int:
    """Desk days the member paid one by one in the window: day passes and pack credits used. It is the
    usage a monthly pass would have covered (bookings under a monthly pass already cost nothing more)."""
    day_passes = PassPeriod.objects.filter(
        pass_obj__member_id=member_id,
        pass_obj__space=space,
        pass_obj__kind__in=(PlanKind.DAY_PASS, PlanKind.ROLLING_DAY),
        start_date__gte=since,
        start_date__lte=until,
    ).count()
    credits_used = -(
        CreditEntry.objects.filter(
            member_id=member_id,
            kind=CreditKind.DESK_DAY,
            grant__source_pass__space=space,
            amount__lt=0,
            created_at__date__gte=since,
            created_at__date__lte=until + timedelta(days=1),
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    returned = (
        CreditEntry.objects.filter(
            member_id=member_id,
            kind=CreditKind.DESK_DAY,
            grant__source_pass__space=space,
            grant__isnull=False,
            amount__gt=0,
            created_at__date__gte=since,
            created_at__date__lte=until + timedelta(days=1),
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return day_passes + max(credits_used - returned, 0)


def card_payable_invoice(*, member_id: int, idempotency_key: str) -> Invoice | None:
    """The member's invoice of that key (a booking's charge, a pass's purchase) if card payments are on
    and something is still due on it: the booking pages then send the member to pay it by card."""
    if not settings.STRIPE_ENABLED:
        return None
    invoice = Invoice.objects.filter(
        member_id=member_id,
        idempotency_key=idempotency_key,
        kind=DocumentKind.INVOICE,
        status=InvoiceStatus.ISSUED,
    ).first()
    if invoice is None:
        return None
    paid = Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED).aggregate(
        total=Sum("amount")
    )
    return invoice if (paid["total"] or 0) < invoice.gross else None
