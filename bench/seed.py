"""Benchmark data in the database the benchmarks use: the space "bench-300" and its members.

Idempotent: every row is found by a natural key (slug, name, e-mail) and brought back to the state
below; the bookings of bench members are deleted and recreated, so a run never inherits the bookings of
an earlier one. Everything it creates is recognisable: the space "bench-300" and the accounts
bench-member-NNN@example.com (40, with a few bookings each: the page is not empty) and
bench-load-NNN@example.com (300, for B5, which needs one member per desk and day).

Days are counted from today at the space:
- days 0..7: existing bookings (one desk per regular member and day, a few room slots);
- day 3: the day whose availability page B1 measures;
- day 8: the day of B5's race check (16 members, one desk);
- days 9..60: B5's booking load (300 desks x 52 days = 15,600 desk-days).

Run it alone with `.venv/bin/python bench/seed.py` (bench.settings, the database of DATABASE_URL).
"""

import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from string import ascii_letters, digits

ROOT = Path(__file__).resolve().parent.parent

SPACE_SLUG = "bench-300"
ZONES = ("Zone A", "Zone B", "Zone C")
DESKS_PER_ZONE = 100
ROOMS_ZONE = "Salles de réunion"
ROOMS = ("Salle Alpha", "Salle Beta")
MEMBERS = 40
LOAD_MEMBERS = 300
BOOKING_WINDOW_DAYS = 60
SEEDED_DAYS = 8  # days 0..7 hold existing bookings
PAGE_DAY = 3  # B1's page
RACE_DAY = 8  # B5's race check
LOAD_FIRST_DAY = 9  # B5's load: days 9..BOOKING_WINDOW_DAYS
CSRF_CHARS = ascii_letters + digits  # django.middleware.csrf.CSRF_ALLOWED_CHARS


def setup_django() -> None:
    """Configure Django under bench.settings in this process (once); DEBUG is always off."""
    import django
    from django.apps import apps

    if apps.ready:
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # `make bench` exports DEBUG=1 for manage.py migrate; the benchmarks measure DEBUG off.
    os.environ["DEBUG"] = "0"
    django.setup()


@dataclass(frozen=True)
class BenchData:
    space_id: int
    slug: str
    today: date
    desk_ids: list[int]  # 300, zone by zone
    room_ids: list[int]
    member_ids: list[int]  # the 40 regular members; member_ids[0] holds a desk on PAGE_DAY
    load_member_ids: list[int]  # the 300 members of B5's load

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    @property
    def page_day(self) -> date:
        return self.day(PAGE_DAY)

    @property
    def race_day(self) -> date:
        return self.day(RACE_DAY)

    @property
    def load_days(self) -> list[date]:
        return [self.day(offset) for offset in range(LOAD_FIRST_DAY, BOOKING_WINDOW_DAYS + 1)]


def _space():
    from spaces.models import Closure, OpeningHours, Space

    space, _ = Space.objects.update_or_create(
        slug=SPACE_SLUG,
        defaults={
            "name": "Bench 300",
            "city": "Benchville",
            "street_address": "1 rue du Banc",
            "postal_code": "59000",
            "country": "FR",
            "time_zone": "Europe/Paris",
            "currency": "EUR",
            "invoice_prefix": "BENCH",
            "legal_name": "Bench SAS",
            "registration_number": "000000000",
            "half_day_split": time(13, 0),
            "booking_window_days": BOOKING_WINDOW_DAYS,
            "cancellation_cutoff_hours": 24,
            "is_active": True,
        },
    )
    for weekday in range(7):
        OpeningHours.objects.update_or_create(
            space=space, weekday=weekday, defaults={"opens": time(7, 0), "closes": time(22, 0)}
        )
    Closure.objects.filter(space=space).delete()
    return space


def _resources(space) -> tuple[list[int], list[int]]:
    from spaces.models import Resource, ResourceKind, Zone

    wanted = []  # (zone name, zone position, kind, name, position, capacity)
    for z, zone_name in enumerate(ZONES):
        for n in range(1, DESKS_PER_ZONE + 1):
            wanted.append((zone_name, z, ResourceKind.HOT_DESK, f"{zone_name[-1]}-{n:03d}", n, 1))
    for n, room in enumerate(ROOMS, start=1):
        wanted.append((ROOMS_ZONE, len(ZONES), ResourceKind.MEETING_ROOM, room, n, 8))
    zones = {}
    for zone_name, position in [*((name, z) for z, name in enumerate(ZONES)), (ROOMS_ZONE, len(ZONES))]:
        zones[zone_name], _ = Zone.objects.update_or_create(
            space=space, name=zone_name, defaults={"position": position}
        )
    existing = {r.name: r for r in Resource.objects.filter(space=space)}
    create, update = [], []
    for zone_name, _, kind, name, position, capacity in wanted:
        fields = {
            "zone": zones[zone_name],
            "kind": kind,
            "position": position,
            "capacity": capacity,
            "is_active": True,
            "min_booking_minutes": 30,
            "max_booking_minutes": 480,
        }
        resource = existing.get(name)
        if resource is None:
            create.append(Resource(space=space, name=name, **fields))
        elif any(getattr(resource, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(resource, key, value)
            update.append(resource)
    Resource.objects.bulk_create(create)
    if update:
        Resource.objects.bulk_update(
            update,
            [
                "zone",
                "kind",
                "position",
                "capacity",
                "is_active",
                "min_booking_minutes",
                "max_booking_minutes",
            ],
        )
    names = {name for _, _, _, name, _, _ in wanted}
    # Anything else in the space (an older layout) would change what is measured.
    Resource.objects.filter(space=space).exclude(name__in=names).update(is_active=False)
    by_name = {r.name: r.pk for r in Resource.objects.filter(space=space, name__in=names)}
    desks = [by_name[name] for _, _, kind, name, _, _ in wanted if kind == ResourceKind.HOT_DESK]
    rooms = [by_name[name] for name in ROOMS]
    return desks, rooms


def _members(prefix: str, count: int, label: str) -> list[int]:
    """`count` active users with a verified primary e-mail and a complete profile, in order."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password

    from members.models import Member, User

    emails = [f"{prefix}-{n:03d}@example.com" for n in range(1, count + 1)]
    existing = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    User.objects.bulk_create(
        [
            User(
                email=email,
                first_name=label,
                last_name=f"{n:03d}",
                is_active=True,
                password=make_password(None),  # unusable: these accounts sign in by session cookie only
            )
            for n, email in enumerate(emails, start=1)
            if email not in existing
        ]
    )
    ids = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    User.objects.filter(pk__in=ids.values()).exclude(is_active=True).update(is_active=True)
    Member.objects.bulk_create(
        [
            Member(user_id=ids[email], display_name=f"{label} {n:03d}")
            for n, email in enumerate(emails, start=1)
        ],
        ignore_conflicts=True,
    )
    Member.objects.filter(user_id__in=ids.values(), display_name="").update(display_name=label)
    have = set(EmailAddress.objects.filter(user_id__in=ids.values()).values_list("email", flat=True))
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(user_id=pk, email=email, verified=True, primary=True)
            for email, pk in ids.items()
            if email not in have
        ]
    )
    EmailAddress.objects.filter(user_id__in=ids.values()).update(verified=True)
    return [ids[email] for email in emails]


def _bookings(space, today: date, desks: list[int], rooms: list[int], members: list[int]) -> int:
    from bookings.models import Booking, DayPart
    from spaces import localtime

    rows = []
    for offset in range(SEEDED_DAYS):
        day = today + timedelta(days=offset)
        bounds = space.day_bounds(day)
        for m, member in enumerate(members):
            # 7 is prime to 300: distinct desks for the members of one day, other desks on other days.
            desk = desks[(m * 7 + offset * 13) % len(desks)]
            rows.append(
                Booking(
                    resource_id=desk,
                    space=space,
                    member_id=member,
                    start=bounds.start,
                    end=bounds.end,
                    local_date=day,
                    part=DayPart.FULL_DAY,
                    is_desk=True,
                    confirmation_pending=False,
                )
            )
        for r, (room, (start, end)) in enumerate(
            (room, slot) for room in rooms for slot in ((9, 11), (14, 15), (17, 19))
        ):
            rows.append(
                Booking(
                    resource_id=room,
                    space=space,
                    member_id=members[r % len(members)],
                    start=localtime.local_instant(day, time(start), space.tz),
                    end=localtime.local_instant(day, time(end), space.tz),
                    local_date=day,
                    part=DayPart.SLOT,
                    is_desk=False,
                    confirmation_pending=False,
                )
            )
    Booking.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _passes(space, today: date, member_ids: list[int]) -> None:
    """Every bench member holds an auto-renewing monthly pass, so booking a desk takes the real
    entitlement path (desks need a pass in the bench space, as in a real one)."""
    from billing.models import Pass, PassPeriod, Plan, PlanKind

    plan, _ = Plan.objects.update_or_create(
        space=space, name="Bench monthly", defaults={"kind": PlanKind.MONTHLY, "unit_price": 250}
    )
    have = set(Pass.objects.filter(plan=plan, member_id__in=member_ids).values_list("member_id", flat=True))
    passes = Pass.objects.bulk_create(
        [
            Pass(member_id=pk, plan=plan, space=space, kind=plan.kind, anchor_date=today, auto_renew=True)
            for pk in member_ids
            if pk not in have
        ]
    )
    PassPeriod.objects.bulk_create(
        [
            PassPeriod(
                pass_obj=p,
                number=1,
                start_date=today,
                end_date=today + timedelta(days=27),
                unit_price=250,
                vat_rate=20,
            )
            for p in passes
        ]
    )
    Pass.objects.filter(plan=plan, anchor_date__gt=today).update(anchor_date=today)


def seed(now: datetime | None = None) -> BenchData:
    """Create or refresh the bench space and members; the bench members' bookings are recreated."""
    setup_django()
    from django.db import connections, transaction
    from django.utils import timezone

    from bookings.availability_cache import bump_availability_version
    from bookings.models import Booking
    from spaces import localtime

    try:
        with transaction.atomic():
            space = _space()
            desks, rooms = _resources(space)
            members = _members("bench-member", MEMBERS, "Bench member")
            load_members = _members("bench-load", LOAD_MEMBERS, "Bench load")
            today = localtime.local_date(now or timezone.now(), space.tz)
            _passes(space, today, [*members, *load_members])
            Booking.objects.filter(member_id__in=[*members, *load_members]).delete()
            # B6's bookings, should a killed B6 run have left them on desk-days B1 and B5 expect free.
            Booking.objects.filter(member__email__startswith="bench-dash-").delete()
            _bookings(space, today, desks, rooms, members)
        bump_availability_version(space.pk)
        return BenchData(space.pk, space.slug, today, desks, rooms, members, load_members)
    finally:
        # The harness keeps running while gunicorn writes: hold no connection (nor SQLite lock) open.
        connections.close_all()


def reset_load_bookings(data: BenchData) -> int:
    """Delete every booking of B5's members (a run that crashed may have left some); returns how many."""
    setup_django()
    from django.db import connections

    from bookings.availability_cache import bump_availability_version
    from bookings.models import Booking

    try:
        deleted, _ = Booking.objects.filter(member_id__in=data.load_member_ids).delete()
        bump_availability_version(data.space_id)
        return deleted
    finally:
        connections.close_all()


def count_load_bookings(data: BenchData, **filters) -> int:
    setup_django()
    from django.db import connections

    from bookings.models import Booking, BookingStatus

    try:
        return Booking.objects.filter(
            member_id__in=data.load_member_ids, status=BookingStatus.CONFIRMED, **filters
        ).count()
    finally:
        connections.close_all()


def new_csrf_token() -> str:
    """A CSRF secret as Django issues it; sent as both the cookie and the form field (the unmasked
    secret is an accepted form value)."""
    from django.utils.crypto import get_random_string

    return get_random_string(32, CSRF_CHARS)


def create_sessions(user_ids: list[int]) -> list[str]:
    """A signed-in session per user, as django.contrib.auth.login stores it; returns the session keys."""
    setup_django()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import connections, transaction

    from members.models import User

    SessionStore = _session_store()
    users = User.objects.in_bulk(user_ids)
    keys = []
    try:
        with transaction.atomic():
            for user_id in user_ids:
                user = users[user_id]
                session = SessionStore()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = "members.auth.ModelBackend"
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session.create()
                keys.append(session.session_key)
        return keys
    finally:
        connections.close_all()


def _session_store():
    """The configured engine's store: the servers measured must find the sessions where they look."""
    from importlib import import_module

    from django.conf import settings

    if settings.SESSION_ENGINE not in {
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    }:
        raise RuntimeError(f"the benchmarks expect database sessions, not {settings.SESSION_ENGINE}")
    return import_module(settings.SESSION_ENGINE).SessionStore


def delete_sessions(keys: list[str]) -> None:
    if not keys:
        return
    setup_django()
    from django.db import connections

    SessionStore = _session_store()
    try:
        for key in keys:
            SessionStore(session_key=key).delete()  # from the cache too, with cached_db
    finally:
        connections.close_all()


def main() -> None:
    data = seed()
    print(
        f"{data.slug}: {len(data.desk_ids)} desks, {len(data.room_ids)} rooms, "
        f"{len(data.member_ids)} members + {len(data.load_member_ids)} load members; "
        f"page day {data.page_day}, race day {data.race_day}, load days {data.load_days[0]}.."
        f"{data.load_days[-1]}"
    )


if __name__ == "__main__":
    main()
