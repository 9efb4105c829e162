"""B6's data: a manager of bench-300 and a year of activity for the dashboard to sum up.

`seed(data)` (idempotent; everything is found by a natural key and recreated) adds to the space of
bench/seed.py:

- a manager, bench-manager-001@example.com: staff, not a superuser, assigned to bench-300 only, and
  another, bench-manager-002@example.com, assigned only to bench-b6-empty, a space with nothing in it
  (the same admin index without the figures);
- 2,000 members bench-dash-NNN@example.com (one in 20 joined this month: the "new members" figure);
- 10,000 of their bookings over the dashboard's default window, the last 30 days and the next 14 (45
  days): 8 meeting-room slots a day (2 rooms x 07-09, 11-13, 15-17, 19-21, beside the bench members'
  slots) and the rest on desks (full days, mornings, afternoons; one in 20 cancelled), about 214 a day,
  never on a desk-day another booking of the space holds (the bench members' days 0..7);
- 5 plans ("B6 ..."; monthly with tiers from periods 4 and 13, annual with a tier from period 2, day
  pass, 10-day pack, rolling day) and 2,000 passes, one per member, of every kind and status (75%
  active, 10% past due, 5% suspended, cancelled, expired), each with its periods (monthly: 1 to 12,
  the last ending between 2 days ago and 28 days ahead, so about 180 renew within 7 days), an invoice
  per period (20% VAT; numbers BENCH-<year>-5NNNNN, BENCH-AV-<year>-5NNNNN for credit notes, far above
  the space's own sequences), a succeeded payment on every paid invoice (one in 7 by card, without a
  received date), a failed attempt before one in 11, a pending one on the open invoice of one active
  monthly pass in 6, and a partial credit note on one invoice in 50. The latest invoice of past-due and
  suspended passes is unpaid (about 300 members in arrears).

On PostgreSQL it then ANALYZEs the tables it filled, as autovacuum would a minute later (until then the
planner guesses, and the arrears queries take 50 ms instead of 3).

The bookings take desk-days that B1 (day 3) and B5 (days 8..60) expect free, so `remove_bookings()`
deletes them once B6 has measured (and `seed()` starts by deleting those of an earlier run); the passes
and invoices stay, nothing else reads them.

Run alone: `.venv/bin/python bench/b6_dashboard.py` seeds and requests the page once in this process
(queries, time, size; from the dashboard's cache and computing it); `--profile N [--computed]` adds N
requests under cProfile; `--keep` leaves the bookings.
"""

import argparse
import sys
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import seed as bench_seed  # noqa: E402

MANAGER_PREFIX = "bench-manager"
MEMBER_PREFIX = "bench-dash"
EMPTY_SPACE_SLUG = "bench-b6-empty"
MEMBERS = 2_000
BOOKINGS = 10_000
DAYS_BEFORE, DAYS_AFTER = 30, 14  # coworking.dashboard's default window
ROOM_SLOTS = ((7, 9), (11, 13), (15, 17), (19, 21))  # beside the bench members' 9-11, 14-15, 17-19
INVOICE_SEQUENCE_FROM = 500_001  # far above the space's own numbers: the two never meet
VAT = Decimal("0.20")
PATH = "/admin/"
ANALYZED_TABLES = (
    "bookings_booking",
    "billing_pass",
    "billing_passperiod",
    "billing_invoice",
    "billing_payment",
    "members_user",
    "members_member",
)


@dataclass(frozen=True)
class DashboardData:
    space_id: int
    manager_id: int
    empty_manager_id: int  # runs bench-b6-empty, a space with nothing in it
    member_ids: list[int]
    today: date
    bookings: int
    bookings_today: int  # confirmed, of the dashboard members, today
    passes: int
    periods: int
    invoices: int
    credit_notes: int
    payments: int
    seconds: float


def _plans(space):
    from billing.models import Plan, PlanKind, PriceTier

    specs = {
        PlanKind.MONTHLY: ("B6 Monthly", Decimal("250.00"), {}, [(4, "230.00"), (13, "210.00")]),
        PlanKind.ANNUAL: ("B6 Annual", Decimal("2400.00"), {}, [(2, "2280.00")]),
        PlanKind.DAY_PASS: ("B6 Day pass", Decimal("25.00"), {}, []),
        PlanKind.PACK_10: ("B6 10-day pack", Decimal("200.00"), {"desk_days": 10}, []),
        PlanKind.ROLLING_DAY: ("B6 Rolling day", Decimal("20.00"), {}, []),
    }
    plans = {}
    for kind, (name, price, extra, tiers) in specs.items():
        plan, _ = Plan.objects.update_or_create(
            space=space, name=name, defaults={"kind": kind, "unit_price": price, **extra}
        )
        PriceTier.objects.filter(plan=plan).delete()
        PriceTier.objects.bulk_create(
            [PriceTier(plan=plan, first_period=first, unit_price=Decimal(p)) for first, p in tiers]
        )
        plans[kind] = (plan, price, [(first, Decimal(p)) for first, p in tiers])
    return plans


def _price(base: Decimal, tiers: list[tuple[int, Decimal]], number: int) -> Decimal:
    price = base
    for first, tier_price in tiers:
        if number >= first:
            price = tier_price
    return price


def _delete_earlier(member_ids: list[int]) -> None:
    from billing.models import DocumentKind, Invoice, Pass, PassPeriod, Payment
    from bookings.models import Booking

    Booking.objects.filter(member_id__in=member_ids).delete()
    Payment.objects.filter(invoice__member_id__in=member_ids).delete()
    PassPeriod.objects.filter(pass_obj__member_id__in=member_ids).delete()
    Invoice.objects.filter(member_id__in=member_ids, kind=DocumentKind.CREDIT_NOTE).delete()
    Invoice.objects.filter(member_id__in=member_ids).delete()
    Pass.objects.filter(member_id__in=member_ids).delete()


def _empty_space_manager(space) -> int:
    """A second manager, of a space with nothing in it: the same admin index (app list, recent actions,
    the dashboard's sections from the cache) without the figures, what B6 compares its page with."""
    from members.models import ManagerAssignment, User
    from spaces.models import Space

    fields = {
        name: getattr(space, name)
        for name in ("city", "street_address", "postal_code", "country", "time_zone", "currency")
    }
    empty, _ = Space.objects.update_or_create(
        slug=EMPTY_SPACE_SLUG,
        defaults={**fields, "name": "Bench empty", "invoice_prefix": "BEMPTY", "is_active": True},
    )
    (manager_id,) = bench_seed._members(MANAGER_PREFIX, 2, "Bench manager")[1:]
    User.objects.filter(pk=manager_id).update(is_staff=True, is_superuser=False)
    ManagerAssignment.objects.filter(user_id=manager_id).exclude(space=empty).delete()
    ManagerAssignment.objects.get_or_create(user_id=manager_id, space=empty)
    return manager_id


def _people(now: datetime, today: date) -> tuple[int, list[int]]:
    from django.db.models import Case, Value, When

    from members.models import ManagerAssignment, User

    manager_id = bench_seed._members(MANAGER_PREFIX, 1, "Bench manager")[0]
    User.objects.filter(pk=manager_id).update(is_staff=True, is_superuser=False)
    ManagerAssignment.objects.filter(user_id=manager_id).exclude(space__slug=bench_seed.SPACE_SLUG).delete()
    member_ids = bench_seed._members(MEMBER_PREFIX, MEMBERS, "Bench dash")
    # One in 20 joined this month (the dashboard's "new members"), the others long ago.
    long_ago = now - timedelta(days=400)
    this_month = datetime.combine(today.replace(day=1), time(12), now.tzinfo)
    User.objects.filter(pk__in=member_ids).update(
        date_joined=Case(
            *(When(pk=pk, then=Value(this_month)) for pk in member_ids[::20]), default=Value(long_ago)
        )
    )
    return manager_id, member_ids


def _bookings(space, today: date, desks: list[int], rooms: list[int], members: list[int], now) -> int:
    from bookings.models import Booking, BookingStatus, DayPart
    from spaces import localtime

    mine = set(members)
    taken = {
        (resource_id, day)
        for resource_id, day, member_id in Booking.objects.filter(
            space=space,
            status=BookingStatus.CONFIRMED,
            local_date__range=(today - timedelta(days=DAYS_BEFORE), today + timedelta(days=DAYS_AFTER)),
            is_desk=True,
        ).values_list("resource_id", "local_date", "member_id")
        if member_id not in mine
    }
    days = [today + timedelta(days=offset) for offset in range(-DAYS_BEFORE, DAYS_AFTER + 1)]
    room_rows = len(days) * len(rooms) * len(ROOM_SLOTS)
    desk_total = BOOKINGS - room_rows
    rows: list = []

    def add(resource_id, member_id, start, end, day, part, is_desk):
        cancelled = len(rows) % 20 == 19
        rows.append(
            Booking(
                resource_id=resource_id,
                space=space,
                member_id=member_id,
                start=start,
                end=end,
                local_date=day,
                part=part,
                is_desk=is_desk,
                status=BookingStatus.CANCELLED if cancelled else BookingStatus.CONFIRMED,
                cancelled_at=now if cancelled else None,
                confirmation_pending=False,
            )
        )

    for index, day in enumerate(days):
        quota = desk_total // len(days) + (1 if index < desk_total % len(days) else 0)
        bounds = space.day_bounds(day)
        morning, afternoon = space.half_day_bounds(day)
        # Distinct members within a day: nobody holds two desks at once.
        day_members = iter([members[(index * 37 + u) % len(members)] for u in range(2 * len(desks))])
        made = 0
        for k in range(len(desks)):
            desk = desks[(k + index * 11) % len(desks)]
            if made >= quota:
                break
            if (desk, day) in taken:
                continue
            if k % 10 == 0 and quota - made >= 2:
                add(desk, next(day_members), morning.start, morning.end, day, DayPart.MORNING, True)
                add(desk, next(day_members), afternoon.start, afternoon.end, day, DayPart.AFTERNOON, True)
                made += 2
            elif k % 10 == 5:
                add(desk, next(day_members), afternoon.start, afternoon.end, day, DayPart.AFTERNOON, True)
                made += 1
            else:
                add(desk, next(day_members), bounds.start, bounds.end, day, DayPart.FULL_DAY, True)
                made += 1
        if made < quota:
            raise RuntimeError(f"B6: only {made} free desks of {quota} on {day}")
        for r, room in enumerate(rooms):
            for s, (start, end) in enumerate(ROOM_SLOTS):
                add(
                    room,
                    members[(index * 53 + r * 7 + s) % len(members)],
                    localtime.local_instant(day, time(start), space.tz),
                    localtime.local_instant(day, time(end), space.tz),
                    day,
                    DayPart.SLOT,
                    False,
                )
    Booking.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _billing(space, today: date, members: list[int], plans) -> dict[str, int]:
    from billing import periods as billing_periods
    from billing.models import (
        DocumentKind,
        Invoice,
        InvoiceStatus,
        Pass,
        PassPeriod,
        PassStatus,
        Payment,
        PaymentMethod,
        PaymentStatus,
        PlanKind,
    )
    from billing.services import document_number

    kinds = [PlanKind.MONTHLY] * 10 + [PlanKind.ANNUAL] * 2 + [PlanKind.DAY_PASS] * 3
    kinds += [PlanKind.PACK_10] * 3 + [PlanKind.ROLLING_DAY] * 2
    statuses = [PassStatus.ACTIVE] * 15 + [PassStatus.PAST_DUE] * 2
    statuses += [PassStatus.SUSPENDED, PassStatus.CANCELLED, PassStatus.EXPIRED]
    sequences: dict[tuple[int, str], int] = {}

    def number(year: int, kind: str) -> tuple[int, str]:
        seq = sequences.get((year, kind), INVOICE_SEQUENCE_FROM)
        sequences[(year, kind)] = seq + 1
        return seq, document_number(space, year, kind, seq)

    def document(member_id, net: Decimal, issued: date, status, kind=DocumentKind.INVOICE, corrects=None):
        vat = (net * VAT).quantize(Decimal("0.01"))
        seq, numbered = number(issued.year, kind)
        return Invoice(
            kind=kind,
            space=space,
            member_id=member_id,
            number=numbered,
            year=issued.year,
            sequence=seq,
            status=status,
            corrects=corrects,
            issue_date=issued,
            due_date=issued + timedelta(days=14),
            currency=space.currency,
            net=net,
            vat=vat,
            gross=net + vat,
            seller={"name": space.legal_name},
            buyer={"member": member_id},
            content_hash="0" * 64,
        )

    passes, pass_periods = [], []  # pass_periods: (pass index, number, start, end, price, invoice index)
    invoices: list = []
    unpaid: set[int] = set()  # invoice indexes
    pending: set[int] = set()
    for i, member_id in enumerate(members):
        kind = kinds[i % len(kinds)]
        status = statuses[(i * 7) % len(statuses)]
        plan, base, tiers = plans[kind]
        late = status in (PassStatus.PAST_DUE, PassStatus.SUSPENDED)
        if kind in (PlanKind.MONTHLY, PlanKind.ANNUAL):
            months = 1 if kind == PlanKind.MONTHLY else 12
            count = 1 + i % 12 if kind == PlanKind.MONTHLY else 1 + i % 3
            # The last period ends between 2 days ago and 28 days ahead (monthly), within a year (annual).
            ends = today + timedelta(days=(i * 13) % 31 - 2 if months == 1 else (i * 29) % 365)
            anchor = billing_periods.add_months_anchored(ends + timedelta(days=1), -months * count)
            spans = [billing_periods.anchored_period(anchor, months, n) for n in range(count)]
            spans = [(p.start, p.end) for p in spans]
        else:
            start = today - timedelta(days=(i * 17) % 120 if kind == PlanKind.PACK_10 else (i * 3) % 40 - 10)
            anchor = start
            spans = [(start, start + timedelta(days=180) if kind == PlanKind.PACK_10 else start)]
        passes.append(
            Pass(
                member_id=member_id,
                plan=plan,
                space=space,
                kind=kind,
                status=status,
                anchor_date=anchor,
                auto_renew=kind in (PlanKind.MONTHLY, PlanKind.ANNUAL, PlanKind.ROLLING_DAY) and i % 9 != 0,
                past_due_since=today - timedelta(days=i % 20) if late else None,
                ended_on=today - timedelta(days=i % 30)
                if status in (PassStatus.CANCELLED, PassStatus.EXPIRED)
                else None,
            )
        )
        for n, (start, end) in enumerate(spans, start=1):
            price = _price(base, tiers, n)
            last = n == len(spans)
            open_invoice = last and (late or (kind == PlanKind.MONTHLY and i % 6 == 1))
            invoices.append(
                document(
                    member_id,
                    price,
                    min(start, today),
                    InvoiceStatus.ISSUED if open_invoice else InvoiceStatus.PAID,
                )
            )
            if open_invoice:
                unpaid.add(len(invoices) - 1)
                if not late:
                    pending.add(len(invoices) - 1)
            pass_periods.append((len(passes) - 1, n, start, end, price, len(invoices) - 1))
    Invoice.objects.bulk_create(invoices, batch_size=1000)
    credit_notes = [
        document(
            inv.member_id,
            -(inv.net / 10).quantize(Decimal("0.01")),
            min(inv.issue_date + timedelta(days=1), today),
            InvoiceStatus.ISSUED,
            kind=DocumentKind.CREDIT_NOTE,
            corrects=inv,
        )
        for j, inv in enumerate(invoices)
        if j % 50 == 7
    ]
    Invoice.objects.bulk_create(credit_notes, batch_size=1000)
    payments = []
    for j, inv in enumerate(invoices):
        if j in pending:
            payments.append(
                Payment(
                    invoice=inv, amount=inv.gross, method=PaymentMethod.TRANSFER, status=PaymentStatus.PENDING
                )
            )
        if j in unpaid:
            continue
        if j % 11 == 3:
            payments.append(
                Payment(invoice=inv, amount=inv.gross, method=PaymentMethod.CARD, status=PaymentStatus.FAILED)
            )
        card = j % 7 == 0
        payments.append(
            Payment(
                invoice=inv,
                amount=inv.gross,
                method=PaymentMethod.CARD if card else PaymentMethod.TRANSFER,
                status=PaymentStatus.SUCCEEDED,
                received_on=None if card else min(inv.issue_date + timedelta(days=j % 5), today),
            )
        )
    Payment.objects.bulk_create(payments, batch_size=1000)
    Pass.objects.bulk_create(passes, batch_size=1000)
    PassPeriod.objects.bulk_create(
        [
            PassPeriod(
                pass_obj=passes[p],
                number=n,
                start_date=start,
                end_date=end,
                unit_price=price,
                vat_rate=Decimal("20.00"),
                invoice=invoices[inv],
            )
            for p, n, start, end, price, inv in pass_periods
        ],
        batch_size=1000,
    )
    return {
        "passes": len(passes),
        "periods": len(pass_periods),
        "invoices": len(invoices),
        "credit_notes": len(credit_notes),
        "payments": len(payments),
    }


def seed(data: "bench_seed.BenchData", now: datetime | None = None) -> DashboardData:
    """The manager, members, bookings, passes and invoices above, recreated (a few seconds)."""
    import time as clock

    bench_seed.setup_django()
    from django.db import connection, connections, transaction
    from django.utils import timezone

    from bookings.availability_cache import bump_availability_version
    from bookings.models import Booking, BookingStatus
    from members.models import ManagerAssignment
    from spaces.models import Space

    started = clock.perf_counter()
    now = now or timezone.now()
    try:
        space = Space.objects.get(pk=data.space_id)
        today = data.today
        with transaction.atomic():
            manager_id, member_ids = _people(now, today)
            ManagerAssignment.objects.get_or_create(user_id=manager_id, space=space)
            empty_manager_id = _empty_space_manager(space)
            _delete_earlier(member_ids)
            plans = _plans(space)
            bookings = _bookings(space, today, data.desk_ids, data.room_ids, member_ids, now)
            billing = _billing(space, today, member_ids, plans)
        bump_availability_version(space.pk)
        if connection.vendor == "postgresql":
            # Fresh statistics, as a database that grew to this size has: right after a bulk insert the
            # planner would otherwise guess (a few queries 20 times slower until autovacuum analyses).
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {', '.join(ANALYZED_TABLES)}")
        bookings_today = Booking.objects.filter(
            member_id__in=member_ids, local_date=today, status=BookingStatus.CONFIRMED
        ).count()
        return DashboardData(
            space_id=space.pk,
            manager_id=manager_id,
            empty_manager_id=empty_manager_id,
            member_ids=member_ids,
            today=today,
            bookings=bookings,
            bookings_today=bookings_today,
            seconds=round(clock.perf_counter() - started, 2),
            **billing,
        )
    finally:
        connections.close_all()


def remove_bookings(dash: DashboardData) -> int:
    """Deletes the dashboard members' bookings (they hold desk-days B1 and B5 expect free)."""
    bench_seed.setup_django()
    from django.db import connections

    from bookings.availability_cache import bump_availability_version
    from bookings.models import Booking

    try:
        deleted, _ = Booking.objects.filter(member_id__in=dash.member_ids).delete()
        bump_availability_version(dash.space_id)
        return deleted
    finally:
        connections.close_all()


def probe(session_key: str, *, cached: bool = True, runs: int = 3) -> dict:
    """The page requested in this process with the manager's session: status, queries of the last run
    (they do not depend on the run), median time and size. cached=False turns the dashboard's cache off
    (DASHBOARD_CACHE_SECONDS=0): every run computes the figures."""
    import statistics
    import time as clock

    bench_seed.setup_django()
    from django.conf import settings
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    times = []
    try:
        with override_settings(**({} if cached else {"DASHBOARD_CACHE_SECONDS": 0})):
            for _ in range(runs):
                with CaptureQueriesContext(connection) as queries:
                    started = clock.perf_counter()
                    response = client.get(PATH)
                    times.append((clock.perf_counter() - started) * 1000)
        return {
            "status": response.status_code,
            "queries": len(queries),
            "ms_median": round(statistics.median(times), 1),
            "bytes": len(response.content),
            "sql": [query["sql"][:160] for query in queries.captured_queries],
        }
    finally:
        connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed B6's data and request the dashboard in-process.")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="N requests under cProfile")
    parser.add_argument("--computed", action="store_true", help="profile with the dashboard's cache off")
    parser.add_argument("--keep", action="store_true", help="leave the bookings in the database")
    args = parser.parse_args()
    data = bench_seed.seed()
    dash = seed(data)
    print({k: v for k, v in asdict(dash).items() if k != "member_ids"})
    (key,) = bench_seed.create_sessions([dash.manager_id])
    try:
        for cached in (True, False):
            result = probe(key, cached=cached)
            print("cached" if cached else "computed", {k: v for k, v in result.items() if k != "sql"})
            for sql in result["sql"]:
                print("  ", sql)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            probe(key, cached=not args.computed, runs=args.profile)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        bench_seed.delete_sessions([key])
        if not args.keep:
            remove_bookings(dash)


if __name__ == "__main__":
    main()
