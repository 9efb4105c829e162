"""B3: the availability query at 50,000 and at 1,000,000 bookings, on a scratch PostgreSQL database.

Run by bench/run.py in its own process (its Django points at the scratch database, not the user's);
it prints one JSON object on its last stdout line and progress on stderr. Alone:

    .venv/bin/python bench/b3_query_scaling.py [--keep]

The server is that of DATABASE_URL when it is a postgres:// URL (same credentials), otherwise
postgres://postgres@127.0.0.1:5432; the database is always coworking_bench_b3, created here and
dropped at the end (--keep leaves it for investigation). No server reachable: {"skipped": ...}.

The data is a network of 12 spaces (the measured one with 300 hot desks and 2 meeting rooms, eleven
with 99 desks and 2 rooms: 1,413 resources), ~58% of desk-days and ~70% of room slots booked (5%
cancelled), over ~3 years of days, inserted set-based (INSERT ... SELECT from generate_series). The
first 50,000 rows are the days nearest the measured day (the middle one), the next 950,000 the days
further out: the measured day holds the same rows at both sizes, so only the table grows, and a time
that grows with it means a query that reads more than its day.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "coworking_bench_b3"
SMALL, LARGE = 50_000, 1_000_000
DAYS = 1_200  # ~3.3 years: enough candidate rows for LARGE at the occupancy below
FIRST_DAY = date(2024, 1, 1)
MIDDLE = DAYS // 2
MEMBERS = 1_500  # more than the resources: a member never holds two desks on one day
DESK_PERMILLE = 583
ROOM_PERCENT = 70
CANCELLED_PERCENT = 5
OTHER_SPACES = 11
ROOM_SLOTS = ((9, 10), (11, 12), (14, 16), (17, 18))
TIMING_RUNS = 200  # at most, per figure
TIMING_BUDGET_S = 6.0  # per figure, after at least MIN_RUNS
MIN_RUNS = 25
TZ = "Europe/Paris"


def log(message: str) -> None:
    print(f"B3: {message}", file=sys.stderr, flush=True)


def server_url() -> str:
    """The maintenance database of the PostgreSQL server to use."""
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme in {"postgres", "postgresql", "pgsql"}:
        parts = urlsplit(url)
        return urlunsplit(("postgres", parts.netloc, "/postgres", "", ""))
    return "postgres://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        for statement in statements:
            conn.execute(statement)


# --- data --------------------------------------------------------------------------------------


def create_network() -> int:
    """Spaces, zones, resources, opening hours and members through the ORM; returns the measured space."""
    from django.contrib.auth.hashers import make_password

    from members.models import Member, User
    from spaces.models import OpeningHours, Resource, ResourceKind, Space, Zone

    def space(slug: str, prefix: str, desks_per_zone: int) -> Space:
        created = Space.objects.create(
            slug=slug,
            name=slug,
            city="Bench",
            street_address="1 rue du Banc",
            postal_code="59000",
            time_zone=TZ,
            invoice_prefix=prefix,
            legal_name="Bench SAS",
            registration_number="000000000",
        )
        OpeningHours.objects.bulk_create(
            OpeningHours(space=created, weekday=w, opens=dtime(7), closes=dtime(22)) for w in range(7)
        )
        resources = []
        for z, name in enumerate(("A", "B", "C")):
            zone = Zone.objects.create(space=created, name=f"Zone {name}", position=z)
            resources += [
                Resource(
                    space=created, zone=zone, kind=ResourceKind.HOT_DESK, name=f"{name}-{n:03d}", position=n
                )
                for n in range(1, desks_per_zone + 1)
            ]
        rooms = Zone.objects.create(space=created, name="Salles", position=3)
        resources += [
            Resource(space=created, zone=rooms, kind=ResourceKind.MEETING_ROOM, name=f"Salle {n}", capacity=8)
            for n in (1, 2)
        ]
        Resource.objects.bulk_create(resources)
        return created

    main = space("b3-main", "B3MAIN", 100)
    for n in range(1, OTHER_SPACES + 1):
        space(f"b3-other-{n:02d}", f"B3O{n:02d}", 33)
    users = User.objects.bulk_create(
        User(email=f"b3-{n:04d}@example.com", password=make_password(None)) for n in range(MEMBERS)
    )
    Member.objects.bulk_create(Member(user=user, display_name=user.email[:7]) for user in users)
    return main.pk


def _candidates_sql() -> str:
    # One row per booked desk-day and room slot; `dist` orders the days from the middle one outwards.
    def hashed(salt: str) -> str:
        return f"abs(hashtext(r.ord::text || ':' || i::text || '{salt}'))"

    day = f"(DATE '{FIRST_DAY.isoformat()}' + i)"
    common = f"""
        r.id AS resource_id, r.space_id, m.id AS member_id, {day} AS local_date,
        CASE WHEN {hashed("c")} % 100 < {CANCELLED_PERCENT} THEN 'cancelled' ELSE 'confirmed' END AS status,
        abs(i - {MIDDLE}) AS dist, i"""
    desks = f"""
        SELECT {common}, 'full_day' AS part, true AS is_desk,
               ({day}::timestamp AT TIME ZONE '{TZ}') AS start,
               (({day} + 1)::timestamp AT TIME ZONE '{TZ}') AS "end", 0 AS slot
        FROM generate_series(0, {DAYS - 1}) AS i
        CROSS JOIN b3_resources r
        JOIN b3_members m ON m.ord = (r.ord + i) % {MEMBERS}
        WHERE r.is_desk AND {hashed("d")} % 1000 < {DESK_PERMILLE}"""  # noqa: S608 - constants only
    rooms = " UNION ALL ".join(
        f"""
        SELECT {common}, 'slot', false,
               (({day} + TIME '{start:02d}:00')::timestamp AT TIME ZONE '{TZ}'),
               (({day} + TIME '{end:02d}:00')::timestamp AT TIME ZONE '{TZ}'), {n}
        FROM generate_series(0, {DAYS - 1}) AS i
        CROSS JOIN b3_resources r
        JOIN b3_members m ON m.ord = (r.ord * 7 + i + {n}) % {MEMBERS}
        WHERE NOT r.is_desk AND {hashed(f"r{n}")} % 100 < {ROOM_PERCENT}"""  # noqa: S608
        for n, (start, end) in enumerate(ROOM_SLOTS, start=1)
    )
    return f"{desks} UNION ALL {rooms}"


def stage_candidates() -> int:
    """All candidate rows, numbered from the middle day outwards, in an unlogged staging table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE b3_resources AS SELECT id, space_id, kind IN ('hot_desk', 'dedicated_desk') "
            "AS is_desk, (row_number() OVER (ORDER BY id) - 1)::int AS ord FROM spaces_resource"
        )
        cursor.execute(
            "CREATE TEMP TABLE b3_members AS SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS ord "
            "FROM members_user"
        )
        cursor.execute("CREATE UNIQUE INDEX ON b3_members (ord)")
        numbered = "SELECT row_number() OVER (ORDER BY dist, i, resource_id, slot) AS rn, c.* FROM"
        cursor.execute(f"CREATE UNLOGGED TABLE b3_staging AS {numbered} ({_candidates_sql()}) AS c")
        cursor.execute("CREATE UNIQUE INDEX ON b3_staging (rn)")
        cursor.execute("SELECT count(*) FROM b3_staging")
        return cursor.fetchone()[0]


def load(first: int, last: int) -> None:
    """Insert the staged rows first..last (set-based), then VACUUM ANALYZE as autovacuum would."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO bookings_booking (resource_id, space_id, member_id, start, "end", local_date, part,
                is_desk, status, created_at, cancelled_at, cancellation_reason, confirmation_pending,
                cancellation_notice_pending)
            SELECT resource_id, space_id, member_id, start, "end", local_date, part, is_desk, status,
                start - interval '7 days',
                CASE WHEN status = 'cancelled' THEN start - interval '2 days' END, '', false, false
            FROM b3_staging WHERE rn BETWEEN %s AND %s ORDER BY rn
            """,
            [first, last],
        )
        cursor.execute("VACUUM (ANALYZE) bookings_booking")
        cursor.execute("SELECT count(*) FROM bookings_booking")
        count = cursor.fetchone()[0]
    if count != last:
        raise RuntimeError(f"expected {last} bookings, the table holds {count}")


# --- measurements ------------------------------------------------------------------------------


def _median_ms(func, *, runs: int = TIMING_RUNS, budget: float = TIMING_BUDGET_S) -> tuple[float, int]:
    for _ in range(5):  # warm the buffers and the plan cache
        func()
    samples: list[float] = []
    deadline = time.monotonic() + budget
    while len(samples) < runs and (len(samples) < MIN_RUNS or time.monotonic() < deadline):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 4), len(samples)


def bookings_query(space_id: int, day: date, now: datetime) -> str:
    """The SQL on bookings_booking that availability_for_day runs (captured, so it follows the code)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bookings.selectors import availability_for_day
    from spaces.models import Space

    space = Space.objects.get(pk=space_id)
    with CaptureQueriesContext(connection) as captured:
        availability_for_day(space=space, day=day, now=now)
    found = [q["sql"] for q in captured.captured_queries if 'FROM "bookings_booking"' in q["sql"]]
    if len(found) != 1:
        raise RuntimeError(f"expected one query on bookings_booking in availability_for_day, got {found}")
    return found[0]


def measure(space_id: int, day: date, now: datetime) -> dict[str, Any]:
    from django.db import connection

    from bookings.selectors import availability_for_day
    from spaces.models import Space

    sql = bookings_query(space_id, day, now)

    def run_query() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return len(cursor.fetchall())

    def run_selector() -> None:
        # A fresh Space as the view has: no cached property carried from one call to the next.
        availability_for_day(space=Space.objects.get(pk=space_id), day=day, now=now)

    query_ms, query_runs = _median_ms(run_query)
    selector_ms, selector_runs = _median_ms(run_selector)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM bookings_booking")
        total = cursor.fetchone()[0]
    return {
        "bookings": total,
        "rows_returned": run_query(),
        "query_ms_median": query_ms,
        "query_runs": query_runs,
        "selector_ms_median": selector_ms,
        "selector_runs": selector_runs,
        "plan": plan,
        "seq_scan_on_bookings": any("Seq Scan on bookings_booking" in line for line in plan),
    }


def relevant(plan: list[str]) -> list[str]:
    """The plan's nodes that touch bookings_booking (and their conditions)."""
    lines, keep = [], False
    for line in plan:
        node = "->" in line or not line.startswith(" ")
        if node:
            keep = "bookings_booking" in line or "booking_" in line
        if keep:
            lines.append(line.strip())
    return lines


def run(keep: bool) -> dict[str, Any]:
    import psycopg

    server = server_url()
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = urlsplit(server).hostname or "?", urlsplit(server).port or 5432  # no credentials shown
        return {"skipped": "needs PostgreSQL", "detail": f"{where[0]}:{where[1]}: {first_line}"}
    admin(server, f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)", f"CREATE DATABASE {SCRATCH_DB}")
    try:
        os.environ["DATABASE_URL"] = with_database(server, SCRATCH_DB)
        os.environ.pop("REDIS_URL", None)  # nothing here uses the cache; keep Redis out of it
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
        os.environ["DEBUG"] = "0"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        started = time.monotonic()
        log("migrating the scratch database")
        call_command("migrate", verbosity=0, interactive=False)
        space_id = create_network()
        staged = stage_candidates()
        if staged < LARGE:
            raise RuntimeError(f"only {staged} candidate bookings; raise DAYS")
        day = FIRST_DAY + timedelta(days=MIDDLE)
        # Noon on the measured day: the selector's "today" is that day, as for a member looking at today.
        now = datetime.combine(day, dtime(12), tzinfo=ZoneInfo(TZ))
        log(f"loading {SMALL:,} bookings")
        load(1, SMALL)
        small = measure(space_id, day, now)
        log(f"growing to {LARGE:,} bookings")
        load(SMALL + 1, LARGE)
        large = measure(space_id, day, now)
        connection.close()
        ratio = large["query_ms_median"] / small["query_ms_median"]
        seq = [label for label, m in (("50k", small), ("1M", large)) if m["seq_scan_on_bookings"]]
        return {
            "ratio": round(ratio, 4),
            "selector_ratio": round(large["selector_ms_median"] / small["selector_ms_median"], 4),
            "seq_scan_on_bookings": seq,
            "day": day.isoformat(),
            "server_version": version,
            "database": SCRATCH_DB + (" (kept)" if keep else " (dropped)"),
            "query": bookings_query(space_id, day, now),
            "plan_relevant": {"50k": relevant(small["plan"]), "1M": relevant(large["plan"])},
            "small": small,
            "large": large,
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        if not keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: S110 - Django may not be set up yet; the drop below is what matters
                pass
            admin(server, f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help=f"leave {SCRATCH_DB} in place at the end")
    args = parser.parse_args()
    try:
        result = run(args.keep)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
