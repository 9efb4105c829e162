"""The managers' dashboard: reads over every app for the spaces a staff user runs.

Each selector is a function of its arguments and the database (the caller passes `now`), returns
dataclasses, and runs a fixed number of queries whatever the number of spaces, resources, bookings,
passes or invoices: rows are grouped in SQL (GROUP BY day and space, day and currency) or read in one
query and computed in Python (opening hours, closures, price tiers). Lists that may run to hundreds of
rows (who is expected, renewals, arrears) are read with values(), not as model instances.
`dashboard()` runs them all.

Dates: "today" at a space is its local date (spaces.localtime.local_date(now, space.tz)); a booking's
day is its `local_date`. The period a dashboard covers, and the months of its revenue, are counted in
the zone of its first space (spaces of one network lie within a day of each other).
"""

import calendar
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from operator import or_
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Cast, TruncDate
from django.utils import timezone

from billing import periods, pricing, services
from billing.models import (
    PERIOD_MONTHS,
    USABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Pass,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
    PriceTier,
)
from billing.money import round_money
from bookings.models import Booking, BookingStatus, DayPart
from members.models import User
from members.selectors import managed_space_ids
from spaces import localtime
from spaces.models import DESK_KINDS, Closure, OpeningHours, Resource, ResourceKind, Space
from spaces.selectors import DaySchedule

# The dashboard's default window around today, and the longest period a manager may ask for.
DAYS_BEFORE = 30
DAYS_AFTER = 14
MAX_PERIOD_DAYS = 366
REVENUE_MONTHS = 12
RENEWAL_DAYS = 7
NEW_MEMBERS_SHOWN = 50

MONEY = DecimalField(max_digits=14, decimal_places=2)
ONE_DECIMAL = Decimal("0.1")


# --- scope and period ---------------------------------------------------------------------------------


_UNSET = object()


# What a page served from the cache reads of the spaces: the filter's choices, the key and the zone.
SPACE_KEY_FIELDS = ("name", "city", "time_zone")


def spaces_for(
    *, user: User, space_ids: set[int] | object | None = _UNSET, only: tuple[str, ...] = ()
) -> list[Space]:
    """The active spaces the user runs (every active space for a superuser), by city and name.
    space_ids: the user's managed_space_ids when the caller has read them already (None: every space).
    only: read just these fields (the figures need all of them)."""
    if space_ids is _UNSET:
        space_ids = managed_space_ids(user=user)
    spaces = Space.objects.filter(is_active=True)
    if only:
        spaces = spaces.only(*only)
    if space_ids is not None:
        spaces = spaces.filter(pk__in=space_ids)
    return list(spaces.order_by("city", "name", "pk"))


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


@dataclass(frozen=True)
class Period:
    """The days a dashboard covers (both included) and the months of its revenue (their first days)."""

    first: date
    last: date
    months: tuple[date, ...]
    is_default: bool

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period_for(*, today: date, first: date | None = None, last: date | None = None) -> Period:
    """The period asked for, or by default the last 30 days and the next 14 (occupancy) with the 12
    months up to this one (revenue). An explicit range covers at most MAX_PERIOD_DAYS days (the caller
    validates it) and its revenue the last 12 of the months it touches."""
    if first is None or last is None:
        this_month = month_start(today)
        months = tuple(add_months(this_month, n) for n in range(1 - REVENUE_MONTHS, 1))
        return Period(today - timedelta(days=DAYS_BEFORE), today + timedelta(days=DAYS_AFTER), months, True)
    if last < first:
        raise ValueError("a period cannot end before it starts")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ValueError(f"a period covers at most {MAX_PERIOD_DAYS} days")
    last_month = month_start(last)
    first_month = max(month_start(first), add_months(last_month, 1 - REVENUE_MONTHS))
    count = (last_month.year - first_month.year) * 12 + last_month.month - first_month.month + 1
    return Period(first, last, tuple(add_months(first_month, n) for n in range(count)), False)


def reference_zone(spaces: list[Space]) -> ZoneInfo | None:
    return spaces[0].tz if spaces else None


def _percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _today_by_space(spaces: list[Space], now: datetime) -> dict[int, date]:
    return {space.pk: localtime.local_date(now, space.tz) for space in spaces}


def _on_local_days(today_by_space: dict[int, date], space_field: str = "space_id") -> Q:
    """space = s AND local_date = today at s, for every space: one clause per distinct date (usually
    one), so the query's size does not grow with the number of spaces."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for space_id, day in today_by_space.items():
        by_day[day].append(space_id)
    return reduce(or_, (Q(**{f"{space_field}__in": ids}, local_date=day) for day, ids in by_day.items()))


# The fields of a member's name read with values() (the selectors below read rows, not model instances,
# when there may be hundreds), and the name members.models.Member.name makes of them.
_MEMBER_NAME_FIELDS = (
    "member__email",
    "member__first_name",
    "member__last_name",
    "member__member__display_name",
)


def _member_name(email: str, first_name: str, last_name: str, display_name: str | None) -> str:
    """members.models.Member.name from values: the display name, else the full name, else the e-mail's
    local part."""
    return display_name or f"{first_name} {last_name}".strip() or email.split("@")[0]


def _labels(choices) -> dict[str, str]:
    """value -> label of a TextChoices in the active language (what get_FOO_display() gives)."""
    return {value: str(label) for value, label in choices.choices}


# --- occupancy ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occupancy:
    """Desks and meeting rooms of one space, or of several added up, on one day.

    desks: active hot and dedicated desks of the spaces open that day (0 when closed: weekly hours or a
    closure); desk_half_days: half days booked on active desks (a full day counts two, a morning or an
    afternoon one); rooms: active meeting rooms (private offices are neither desks nor rooms);
    room_minutes: minutes booked on them; open_room_minutes: rooms x the length of that day's opening
    window (0 when closed). A rate is None when there is nothing to book (closed, or no such resource).
    """

    day: date
    is_open: bool
    desks: int
    desk_half_days: int
    rooms: int
    room_minutes: int
    open_room_minutes: int

    @property
    def desks_booked(self) -> Decimal:
        return Decimal(self.desk_half_days) / 2

    @property
    def desk_rate(self) -> Decimal | None:
        """Percent of the open desks booked (one decimal, half up), None when closed or without desks."""
        return _percent(self.desk_half_days, 2 * self.desks)

    @property
    def room_hours(self) -> Decimal:
        return (Decimal(self.room_minutes) / 60).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)

    @property
    def open_room_hours(self) -> Decimal:
        return (Decimal(self.open_room_minutes) / 60).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)

    @property
    def room_rate(self) -> Decimal | None:
        """Percent of the rooms' open hours booked (one decimal, half up), None when closed or without
        rooms."""
        return _percent(self.room_minutes, self.open_room_minutes)

    def __add__(self, other: "Occupancy") -> "Occupancy":
        return Occupancy(
            day=self.day,
            is_open=self.is_open or other.is_open,
            desks=self.desks + other.desks,
            desk_half_days=self.desk_half_days + other.desk_half_days,
            rooms=self.rooms + other.rooms,
            room_minutes=self.room_minutes + other.room_minutes,
            open_room_minutes=self.open_room_minutes + other.open_room_minutes,
        )


def occupancy(
    *, spaces: list[Space], first: date, last: date, now: datetime
) -> tuple[dict[int, Occupancy], list[Occupancy]]:
    """Today's occupancy of each space (by space id), and the occupancy of the spaces added up on each
    day from `first` to `last`. Four queries: resources, opening hours, closures, bookings (one GROUP BY
    local_date, space), whatever the number of days, spaces and bookings."""
    if not spaces:
        return {}, []
    space_ids = [space.pk for space in spaces]
    today_by_space = _today_by_space(spaces, now)
    low = min(first, *today_by_space.values())
    high = max(last, *today_by_space.values())

    counts = {
        row["space_id"]: row
        for row in Resource.objects.filter(space_id__in=space_ids, is_active=True)
        .values("space_id")
        .annotate(
            desks=Count("pk", filter=Q(kind__in=DESK_KINDS)),
            rooms=Count("pk", filter=Q(kind=ResourceKind.MEETING_ROOM)),
        )
        .order_by()
    }
    hours = {
        (space_id, weekday): (opens, closes)
        for space_id, weekday, opens, closes in OpeningHours.objects.filter(
            space_id__in=space_ids
        ).values_list("space_id", "weekday", "opens", "closes")
    }
    closures: dict[int, list[tuple[date, date, str]]] = defaultdict(list)
    for space_id, start, end, reason in Closure.objects.filter(
        space_id__in=space_ids, start_date__lte=high, end_date__gte=low
    ).values_list("space_id", "start_date", "end_date", "reason"):
        closures[space_id].append((start, end, reason))

    booked: dict[tuple[int, date], tuple[int, int]] = {}
    rows = (
        Booking.objects.filter(
            Q(local_date__range=(first, last)) | _on_local_days(today_by_space),
            space_id__in=space_ids,
            status=BookingStatus.CONFIRMED,
            resource__is_active=True,
        )
        .values("local_date", "space_id")
        .annotate(
            desk_half_days=Sum(
                Case(When(part=DayPart.FULL_DAY, then=Value(2)), default=Value(1)),
                filter=Q(resource__kind__in=DESK_KINDS),
            ),
            room_time=Sum(
                ExpressionWrapper(F("end") - F("start"), output_field=DurationField()),
                filter=Q(resource__kind=ResourceKind.MEETING_ROOM),
            ),
        )
        .order_by()
    )
    for row in rows:
        room_time = row["room_time"] or timedelta(0)
        booked[(row["space_id"], row["local_date"])] = (
            row["desk_half_days"] or 0,
            int(room_time.total_seconds()) // 60,
        )

    def of(space: Space, day: date) -> Occupancy:
        opens, closes = hours.get((space.pk, day.weekday()), (None, None))
        closure = next((reason for start, end, reason in closures[space.pk] if start <= day <= end), None)
        schedule = DaySchedule(space, day, opens, closes, closure)
        window = schedule.window
        open_minutes = int(window.duration.total_seconds()) // 60 if window else 0
        resource_counts = counts.get(space.pk, {"desks": 0, "rooms": 0})
        half_days, room_minutes = booked.get((space.pk, day), (0, 0))
        return Occupancy(
            day=day,
            is_open=schedule.is_open,
            desks=resource_counts["desks"] if schedule.is_open else 0,
            desk_half_days=half_days,
            rooms=resource_counts["rooms"],
            room_minutes=room_minutes,
            open_room_minutes=resource_counts["rooms"] * open_minutes,
        )

    today = {space.pk: of(space, today_by_space[space.pk]) for space in spaces}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        days.append(reduce(lambda total, space: total + of(space, day), spaces[1:], of(spaces[0], day)))
    return today, days


# --- who is expected today ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A confirmed booking of today at a space, as the check-in list shows it."""

    booking_id: int
    space_id: int
    member_id: int
    member_name: str
    member_email: str
    company: str
    resource_name: str
    resource_kind: str
    part: str
    part_label: str
    start_time: time  # wall-clock time at the space
    end_time: time

    @property
    def is_slot(self) -> bool:
        return self.part == DayPart.SLOT


def expected_today(*, spaces: list[Space], now: datetime) -> dict[int, list[Expected]]:
    """Today's confirmed bookings of each space (by space id), by start time then member (one query, of
    values rather than model instances: a busy space expects hundreds of people)."""
    if not spaces:
        return {}
    by_id = {space.pk: space for space in spaces}
    rows = (
        Booking.objects.filter(_on_local_days(_today_by_space(spaces, now)), status=BookingStatus.CONFIRMED)
        .order_by("space_id", "start", "resource__name", "pk")
        .values_list(
            "pk",
            "space_id",
            "member_id",
            *_MEMBER_NAME_FIELDS,
            "member__member__company",
            "resource__name",
            "resource__kind",
            "part",
            "start",
            "end",
        )
    )
    kind_labels, part_labels = _labels(ResourceKind), _labels(DayPart)
    expected: dict[int, list[Expected]] = {space.pk: [] for space in spaces}
    for (
        pk,
        space_id,
        member_id,
        email,
        first,
        last,
        display,
        company,
        resource,
        kind,
        part,
        start,
        end,
    ) in rows:
        tz = by_id[space_id].tz
        expected[space_id].append(
            Expected(
                booking_id=pk,
                space_id=space_id,
                member_id=member_id,
                member_name=_member_name(email, first, last, display),
                member_email=email,
                company=company or "",
                resource_name=resource,
                resource_kind=kind_labels.get(kind, kind),
                part=part,
                part_label=part_labels.get(part, part),
                start_time=start.astimezone(tz).time(),
                end_time=end.astimezone(tz).time(),
            )
        )
    return expected


# --- revenue ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueMonth:
    """Invoiced: invoices less credit notes issued in the month (by issue date), excluding and
    including VAT. Paid: succeeded payments received in the month (by received_on, or the day the
    payment was recorded when the gateway left it empty); its net is each payment's share of its
    invoice's net (amount x net / gross)."""

    month: date
    currency: str
    invoiced_net: Decimal
    invoiced_gross: Decimal
    paid_net: Decimal
    paid_gross: Decimal


def revenue_by_month(*, spaces: list[Space], months: tuple[date, ...]) -> list[RevenueMonth]:
    """One row per currency and month of `months` (zeros included), by currency then month. Two queries
    (invoices, payments), each grouped by day and currency in SQL (a few hundred rows) and added up into
    months here: grouping by month in SQL would call a Python function per invoice and payment on
    SQLite (TruncMonth), thousands per request."""
    if not spaces or not months:
        return []
    space_ids = [space.pk for space in spaces]
    first, last = months[0], month_end(months[-1])
    zero = Decimal("0.00")

    # Credit notes reduce revenue: their amounts count negative whatever sign they were stored with.
    def signed(name: str):
        return Case(
            When(kind=DocumentKind.CREDIT_NOTE, then=-Abs(F(name))), default=F(name), output_field=MONEY
        )

    invoiced: dict[tuple[str, date], list[Decimal]] = defaultdict(lambda: [zero, zero])
    for currency, day, net, gross in (
        Invoice.objects.filter(
            space_id__in=space_ids,
            kind__in=(DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE),
            issue_date__range=(first, last),
        )
        .values("currency", "issue_date")
        .annotate(net=Sum(signed("net")), gross=Sum(signed("gross")))
        .order_by()
        .values_list("currency", "issue_date", "net", "gross")
    ):
        totals = invoiced[(currency, month_start(day))]
        totals[0] += net or zero
        totals[1] += gross or zero
    # A payment counts on the day it was received, or, when the gateway left that empty, on the day it was
    # recorded (in the current time zone, as TruncDate reads it): the instants of that day are compared in
    # SQL, and TruncDate runs only on those few rows (CASE evaluates it for them alone).
    # Payments on a zero invoice do not exist (it is paid when issued); the filter guards the division.
    # The share is computed in floating point (SQLite divides integers as integers), added up exactly
    # (math.fsum) and rounded once per month.
    zone = timezone.get_current_timezone()
    share = ExpressionWrapper(
        Cast("amount", FloatField())
        * Cast("invoice__net", FloatField())
        / Cast("invoice__gross", FloatField()),
        output_field=FloatField(),
    )
    received: dict[tuple[str, date], tuple[list[Decimal], list[float]]] = defaultdict(lambda: ([], []))
    for currency, on, recorded_on, gross, net in (
        Payment.objects.filter(
            Q(received_on__range=(first, last))
            | Q(
                received_on__isnull=True,
                created_at__gte=localtime.day_bounds(first, zone).start,
                created_at__lt=localtime.day_bounds(last, zone).end,
            ),
            invoice__space_id__in=space_ids,
            status=PaymentStatus.SUCCEEDED,
            invoice__gross__gt=0,
        )
        .annotate(
            recorded_on=Case(
                When(received_on__isnull=True, then=TruncDate("created_at")),
                default=None,
                output_field=DateField(),
            )
        )
        .values("invoice__currency", "received_on", "recorded_on")
        .annotate(gross=Sum("amount"), net=Sum(share))
        .order_by()
        .values_list("invoice__currency", "received_on", "recorded_on", "gross", "net")
    ):
        amounts, shares = received[(currency, month_start(on or recorded_on))]
        amounts.append(gross or zero)
        shares.append(net or 0.0)
    currencies = sorted({currency for currency, _month in [*invoiced, *received]} or {spaces[0].currency})
    result = []
    for currency in currencies:
        for month in months:
            billed = invoiced.get((currency, month), (zero, zero))
            amounts, shares = received.get((currency, month), ([], []))
            result.append(
                RevenueMonth(
                    month=month,
                    currency=currency,
                    # Sums of amounts in cents are amounts in cents: rounding them removes only what
                    # SQLite's floating-point SUM may add (291692.400000001); PostgreSQL's are exact.
                    invoiced_net=round_money(billed[0], currency),
                    invoiced_gross=round_money(billed[1], currency),
                    paid_net=round_money(Decimal(repr(math.fsum(shares))), currency),
                    paid_gross=round_money(sum(amounts, zero), currency),
                )
            )
    return result


# --- passes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    count: int


def active_passes_by_kind(*, spaces: list[Space]) -> list[KindCount]:
    """Passes active or past due (those that still let their member book), per plan kind, every kind
    listed in the catalogue's order of commitment (one query)."""
    counts = dict(
        Pass.objects.filter(space__in=spaces, status__in=USABLE_STATUSES)
        .values("kind")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("kind", "count")
    )
    return [
        KindCount(kind.value, str(PlanKind(kind.value).label), counts.get(kind.value, 0))
        for kind in pricing.COMMITMENT_ORDER
    ]


@dataclass(frozen=True)
class Renewal:
    """An auto-renewing monthly or annual pass whose current period ends within the next days: the
    renewal job will invoice its next period at the tier of that period's number."""

    pass_id: int
    space_id: int
    member_id: int
    member_name: str
    member_email: str
    plan_name: str
    kind_label: str
    status: str
    status_label: str
    period_number: int  # of the next period
    renews_on: date  # first day of the next period
    ends_on: date  # last day of the current period
    unit_price: Decimal | None  # excluding VAT; None when the plan's tiers cannot price it
    expected_gross: Decimal | None
    currency: str
    notice_sent: bool


def renewals_due(*, spaces: list[Space], now: datetime, days: int = RENEWAL_DAYS) -> list[Renewal]:
    """Passes that renew in the next `days` days: auto-renewing MONTHLY and ANNUAL passes, active or past
    due (those the renewal job renews), whose last period ends between today and today + days - 1 at
    their space, so that the next period starts within the next `days` days. Expected amount: one
    period at the next period's tier price, VAT included (billing.pricing, as the renewal job prices
    it; computed once per plan and period number). Two queries (the passes as values, then their plans'
    tiers), by renewal date."""
    if not spaces:
        return []
    today_by_space = _today_by_space(spaces, now)
    by_id = {space.pk: space for space in spaces}
    rows = list(
        Pass.objects.filter(
            space__in=spaces, status__in=USABLE_STATUSES, auto_renew=True, kind__in=list(PERIOD_MONTHS)
        )
        .annotate(last_number=Max("periods__number"), last_end=Max("periods__end_date"))
        # Coarse in SQL, exact per space below.
        .filter(
            last_end__gte=min(today_by_space.values()),
            last_end__lte=max(today_by_space.values()) + timedelta(days=days - 1),
        )
        .order_by("last_end", "pk")
        .values_list(
            "pk",
            "space_id",
            "member_id",
            *_MEMBER_NAME_FIELDS,
            "kind",
            "status",
            "anchor_date",
            "renewal_notice_for",
            "last_number",
            "last_end",
            "plan_id",
            "plan__name",
            "plan__kind",
            "plan__unit_price",
            "plan__nominal_days",
            "plan__space__currency",
        )
    )
    tiers: dict[int, list[PriceTier]] = defaultdict(list)
    for plan_id, first_period, unit_price in (
        PriceTier.objects.filter(plan_id__in={row[-6] for row in rows})
        .order_by("first_period")
        .values_list("plan_id", "first_period", "unit_price")
    ):
        tiers[plan_id].append(PriceTier(first_period=first_period, unit_price=unit_price))
    kind_labels, status_labels = _labels(PlanKind), _labels(PassStatus)
    prices: dict[tuple[int, int], Decimal | None] = {}
    grosses: dict[tuple[int, int, int], Decimal | None] = {}
    renewals = []
    for row in rows:
        (pk, space_id, member_id, email, first, last, display, kind, status, anchor, notice_for) = row[:11]
        (last_number, last_end, plan_id, plan_name, plan_kind, plan_price, nominal_days, currency) = row[11:]
        today = today_by_space[space_id]
        if not today <= last_end <= today + timedelta(days=days - 1):
            continue
        space = by_id[space_id]
        number = last_number + 1
        # billing.services.next_period for these kinds: the anchored period after the last one.
        period = periods.anchored_period(anchor, PERIOD_MONTHS[kind], last_number)
        if (plan_id, number) not in prices:
            plan = Plan(
                kind=plan_kind,
                unit_price=plan_price,
                nominal_days=nominal_days,
                space=Space(currency=currency),
            )
            try:
                prices[(plan_id, number)] = pricing.unit_price_for(plan.terms(tiers[plan_id]), number)
            except pricing.InvalidTerms:
                prices[(plan_id, number)] = None
        price = prices[(plan_id, number)]
        if (plan_id, number, space_id) not in grosses:
            grosses[(plan_id, number, space_id)] = (
                None
                if price is None
                else pricing.make_line(
                    "", Decimal(1), price, services.vat_fraction(space), space.currency
                ).gross
            )
        renewals.append(
            Renewal(
                pass_id=pk,
                space_id=space_id,
                member_id=member_id,
                member_name=_member_name(email, first, last, display),
                member_email=email,
                plan_name=plan_name,
                kind_label=kind_labels.get(kind, kind),
                status=status,
                status_label=status_labels.get(status, status),
                period_number=number,
                renews_on=period.start,
                ends_on=last_end,
                unit_price=price,
                expected_gross=grosses[(plan_id, number, space_id)],
                currency=space.currency,
                notice_sent=notice_for == period.start,
            )
        )
    return renewals


@dataclass(frozen=True)
class MoneyTotal:
    currency: str
    amount: Decimal


def totals_by_currency(items: list, attribute: str) -> list[MoneyTotal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        amount = getattr(item, attribute)
        if amount is not None:
            totals[item.currency] += amount
    return [MoneyTotal(currency, totals[currency]) for currency in sorted(totals)]


@dataclass(frozen=True)
class Arrears:
    """A member with a past-due or suspended pass at a space, and what they owe it: the gross of their
    unpaid (issued) invoices of that space, less the succeeded payments made on them and the credit
    notes issued against them (a partial credit note leaves an invoice unpaid)."""

    member_id: int
    space_id: int
    member_name: str
    member_email: str
    status: str  # suspended if any of their passes there is, else past_due
    status_label: str
    past_due_since: date | None
    plans: tuple[str, ...]
    unpaid_invoices: int
    oldest_due_date: date | None
    balance: Decimal
    currency: str


def members_in_arrears(*, spaces: list[Space]) -> list[Arrears]:
    """Members with a PAST_DUE or SUSPENDED pass in the spaces, suspended first, then the longest past
    due. Four queries: their passes (as values), their unpaid invoices' gross, the payments made on those
    and the credit notes issued against them."""
    if not spaces:
        return []
    by_id = {space.pk: space for space in spaces}
    late = (PassStatus.PAST_DUE, PassStatus.SUSPENDED)
    passes = Pass.objects.filter(space__in=spaces, status__in=late).order_by("pk")
    rows = passes.values_list(
        "member_id", "space_id", "status", "past_due_since", "plan__name", *_MEMBER_NAME_FIELDS
    )
    members = Pass.objects.filter(space__in=spaces, status__in=late).values("member_id")
    unpaid = Invoice.objects.filter(
        space__in=spaces, member_id__in=members, kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED
    )
    invoiced = {
        (row["member_id"], row["space_id"]): row
        for row in unpaid.values("member_id", "space_id")
        .annotate(gross=Sum("gross"), count=Count("pk"), oldest=Min("due_date"))
        .order_by()
    }
    paid = {
        (row["invoice__member_id"], row["invoice__space_id"]): row["total"]
        for row in Payment.objects.filter(invoice__in=unpaid, status=PaymentStatus.SUCCEEDED)
        .values("invoice__member_id", "invoice__space_id")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    # A partial credit note on an invoice still unpaid lowers what is owed on it (billing's Balance.due).
    credited = {
        (row["member_id"], row["space_id"]): -row["total"]
        for row in Invoice.objects.filter(corrects__in=unpaid, kind=DocumentKind.CREDIT_NOTE)
        .values("member_id", "space_id")
        .annotate(total=Sum(-Abs(F("gross")), output_field=MONEY))
        .order_by()
    }
    grouped: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for row in rows:
        grouped[(row[0], row[1])].append(row)
    status_labels = _labels(PassStatus)
    result = []
    for (member_id, space_id), member_passes in grouped.items():
        suspended = [row for row in member_passes if row[2] == PassStatus.SUSPENDED]
        status = PassStatus.SUSPENDED if suspended else PassStatus.PAST_DUE
        since = [row[3] for row in member_passes if row[3]]
        invoices = invoiced.get((member_id, space_id), {})
        email, first, last, display = member_passes[0][5:]
        result.append(
            Arrears(
                member_id=member_id,
                space_id=space_id,
                member_name=_member_name(email, first, last, display),
                member_email=email,
                status=status,
                status_label=status_labels[status],
                past_due_since=min(since) if since else None,
                plans=tuple(sorted({row[4] for row in member_passes})),
                unpaid_invoices=invoices.get("count", 0),
                oldest_due_date=invoices.get("oldest"),
                balance=(invoices.get("gross") or Decimal("0.00"))
                - (paid.get((member_id, space_id)) or 0)
                - credited.get((member_id, space_id), 0),
                currency=by_id[space_id].currency,
            )
        )
    result.sort(
        key=lambda row: (row.status != PassStatus.SUSPENDED, row.past_due_since or date.max, row.member_name)
    )
    return result


# --- new members --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMember:
    user_id: int
    name: str
    email: str
    joined: date  # local date at the first space listed
    space_ids: tuple[int, ...]


@dataclass
class NewMembers:
    """Accounts created this month (local month at each space) that booked (a confirmed booking) or hold
    a pass (any status but cancelled) in the spaces. `count` counts each person once; `by_space` counts
    them at each space; `signups` is every account created this month, for superusers only."""

    month: date
    count: int
    by_space: dict[int, int]
    members: list[NewMember] = field(default_factory=list)
    signups: int | None = None


def _month_bounds(day: date, tz: ZoneInfo) -> localtime.Interval:
    first = month_start(day)
    return localtime.Interval(
        localtime.day_bounds(first, tz).start, localtime.day_bounds(add_months(first, 1), tz).start
    )


def new_members(
    *, spaces: list[Space], now: datetime, include_signups: bool = False, zone: ZoneInfo | None = None
) -> NewMembers:
    """Three queries (the pairs of space and new member from bookings and from passes, then those
    members), a fourth for the sign-ups count when asked (month counted in `zone`)."""
    zone = zone or reference_zone(spaces)
    month = month_start(localtime.local_date(now, zone)) if zone else month_start(now.date())
    signups = None
    if include_signups and zone:
        bounds = _month_bounds(month, zone)
        signups = User.objects.filter(date_joined__gte=bounds.start, date_joined__lt=bounds.end).count()
    if not spaces:
        return NewMembers(month, 0, {}, [], signups)
    bounds_by_space = {
        space.pk: _month_bounds(localtime.local_date(now, space.tz), space.tz) for space in spaces
    }
    coarse = {
        "member__date_joined__gte": min(b.start for b in bounds_by_space.values()),
        "member__date_joined__lt": max(b.end for b in bounds_by_space.values()),
    }
    space_ids = list(bounds_by_space)
    pairs: set[tuple[int, int, datetime]] = set()
    pairs.update(
        Booking.objects.filter(space_id__in=space_ids, status=BookingStatus.CONFIRMED, **coarse)
        .values_list("space_id", "member_id", "member__date_joined")
        .distinct()
    )
    pairs.update(
        Pass.objects.filter(space_id__in=space_ids, **coarse)
        .exclude(status=PassStatus.CANCELLED)
        .values_list("space_id", "member_id", "member__date_joined")
        .distinct()
    )
    spaces_of: dict[int, set[int]] = defaultdict(set)
    for space_id, member_id, joined in pairs:
        if joined in bounds_by_space[space_id]:
            spaces_of[member_id].add(space_id)
    by_space: dict[int, int] = {space.pk: 0 for space in spaces}
    for member_spaces in spaces_of.values():
        for space_id in member_spaces:
            by_space[space_id] += 1
    order = {space.pk: position for position, space in enumerate(spaces)}
    users = (
        User.objects.filter(pk__in=list(spaces_of))
        .order_by("-date_joined", "pk")
        .values_list("pk", "date_joined", "email", "first_name", "last_name", "member__display_name")
    )
    members = [
        NewMember(
            user_id=pk,
            name=_member_name(email, first, last, display),
            email=email,
            joined=localtime.local_date(joined, zone or spaces[0].tz),
            space_ids=tuple(sorted(spaces_of[pk], key=order.__getitem__)),
        )
        for pk, joined, email, first, last, display in users[:NEW_MEMBERS_SHOWN]
    ]
    return NewMembers(month, len(spaces_of), by_space, members, signups)


# --- the whole dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceToday:
    space: Space
    day: date
    occupancy: Occupancy
    expected: list[Expected]


@dataclass(frozen=True)
class Dashboard:
    spaces: list[Space]
    today: date
    period: Period
    by_space: list[SpaceToday]
    today_total: Occupancy | None  # the spaces' today added up, when there are several
    days: list[Occupancy]
    revenue: list[RevenueMonth]
    passes_by_kind: list[KindCount]
    renewals: list[Renewal]
    arrears: list[Arrears]
    new_members: NewMembers

    @property
    def renewals_total(self) -> list[MoneyTotal]:
        return totals_by_currency(self.renewals, "expected_gross")

    @property
    def arrears_total(self) -> list[MoneyTotal]:
        return totals_by_currency(self.arrears, "balance")

    @property
    def active_passes(self) -> int:
        return sum(row.count for row in self.passes_by_kind)

    @property
    def revenue_this_month(self) -> list[RevenueMonth]:
        this_month = month_start(self.today)
        return [row for row in self.revenue if row.month == this_month]


def dashboard(
    *,
    spaces: list[Space],
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    include_signups: bool = False,
) -> Dashboard:
    """Every figure of the dashboard for `spaces` (the caller has scoped them to the user), over the
    period from `first` to `last` (both or neither; the default window when neither). 17 queries, 18
    with the sign-ups count, whatever the number of spaces and rows (fewer when a part is empty)."""
    zone = reference_zone(spaces)
    today = localtime.local_date(now, zone) if zone else now.date()
    period = period_for(today=today, first=first, last=last)
    today_by_space, days = occupancy(spaces=spaces, first=period.first, last=period.last, now=now)
    expected = expected_today(spaces=spaces, now=now)
    by_space = [
        SpaceToday(space, localtime.local_date(now, space.tz), today_by_space[space.pk], expected[space.pk])
        for space in spaces
    ]
    total = None
    if len(by_space) > 1:
        total = reduce(lambda a, b: a + b, (row.occupancy for row in by_space))
    return Dashboard(
        spaces=spaces,
        today=today,
        period=period,
        by_space=by_space,
        today_total=total,
        days=days,
        revenue=revenue_by_month(spaces=spaces, months=period.months),
        passes_by_kind=active_passes_by_kind(spaces=spaces),
        renewals=renewals_due(spaces=spaces, now=now),
        arrears=members_in_arrears(spaces=spaces),
        new_members=new_members(spaces=spaces, now=now, include_signups=include_signups, zone=zone),
    )
