"""B4: renewing 100,000 due passes with the renewal job, against set-based SQL writing the same rows.

Run by bench/run.py in its own process; it prints one JSON object on its last stdout line and progress on
stderr. Alone:

    .venv/bin/python bench/b4_renewals.py [--passes N] [--rounds R] [--database auto|postgresql|sqlite]
                                          [--keep] [--profile FILE] [--tracemalloc]

The database: PostgreSQL on the server of DATABASE_URL when it is a postgres:// URL, else on
postgres://postgres@127.0.0.1:5432 if that answers (as B3 finds it), else SQLite files in a temporary
directory; BENCH_B4_DATABASE (or --database) forces one. A seed database (coworking_bench_b4_seed_<pid>,
or seed.sqlite3) is migrated and filled once: 3 spaces (Lille and Lyon in Europe/Paris, Brussels in
Europe/Brussels; 20%, 0% with the franchise mention, and 21% VAT), a monthly plan with two price tiers
and an annual plan with one in each, N users with their member profiles, and N auto-renewing passes
(4 in 5 monthly), each with one period ending today or tomorrow, so that all N are due. Everything is
inserted with bulk_create; the seeding is not measured.

Each round restores that state twice (PostgreSQL: coworking_bench_b4_run_<pid>, CREATE DATABASE ...
TEMPLATE the seed; SQLite: a copy of the file) and measures, in a fresh subprocess each:
- the job: billing.services.renew_due_passes(now=NOW, gateway=OfflineGateway()), wall time, queries,
  and peak memory (ru_maxrss; the growth is over the process after django.setup());
- the baseline: the same rows (periods, numbered invoices with seller/buyer snapshots and a content
  hash, lines, pending payments, sequence update) written by a handful of INSERT ... SELECT statements
  in one transaction.
Sides alternate within the rounds; the ratio is median(job) / median(baseline). In the first round both
sides dump the rows they wrote, which must be identical (content hashes and timestamps aside), and each
run is checked: N new periods, N invoices numbered without gaps per space and year from where the
sequence was, N lines, N pending payments.

--profile FILE runs the job once more under cProfile (not timed) and prints where the time goes;
--tracemalloc once more under tracemalloc (the Python-level peak; too slow to run in the timed rounds).
BENCH_B4_PASSES (default 100000) and BENCH_B4_ROUNDS set the size and the rounds.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.b3_query_scaling import admin, server_url, with_database  # noqa: E402

# Suffixed with the driver's pid: two runs at once (two sessions on one server) must not drop each
# other's databases. Those of runs that died are dropped by the next run on the same machine.
DB_PREFIX = "coworking_bench_b4_"
DEFAULT_PASSES = 100_000
# Noon UTC: the same local date in every space. A day of the month below 27, so that periods ending
# today or tomorrow are exact anchored periods (no end-of-month clamping when seeding).
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BATCH = 5_000
RSS_LIMIT_MB = 500
# Already issued this year before the run: numbering must continue from there without a gap. Lyon has
# no sequence row yet (the job creates it).
SEQUENCES_BEFORE = {"LIL": 1200, "BXL": 57}


def log(message: str) -> None:
    print(f"B4: {message}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# --- seeding (child process, Django on the seed database) -----------------------------------------


SPACES = [
    # prefix, slug, name, city, zone, country, VAT %, VAT number
    ("LIL", "b4-lille", "Bench Lille", "Lille", "Europe/Paris", "FR", "20.00", "FR32812345672"),
    ("BXL", "b4-bruxelles", "Bench Bruxelles", "Bruxelles", "Europe/Brussels", "BE", "21.00", "BE0123456749"),
    ("LYO", "b4-lyon", "Bench Lyon", "Lyon", "Europe/Paris", "FR", "0.00", ""),
]
# kind, name, price, tiers (first period, price), how many period numbers the seeded passes span
PLANS = [
    ("monthly", "Mensuel", "250.00", [(4, "230.00"), (13, "210.00")], 15),
    ("annual", "Annuel", "2400.00", [(2, "2280.00")], 2),
]


def seed(passes: int) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from billing import periods, pricing
    from billing.models import PERIOD_MONTHS, InvoiceSequence, Pass, PassPeriod, Plan, PriceTier
    from members.models import Member, User
    from spaces import localtime
    from spaces.models import Space

    started = time.monotonic()
    log("migrating the seed database")
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.monotonic() - started
    log(f"seeding {passes:,} members and due passes")
    with transaction.atomic():
        spaces, plans = [], []
        for prefix, slug, name, city, zone, country, vat, vat_number in SPACES:
            space = Space.objects.create(
                slug=slug,
                name=name,
                city=city,
                street_address="12 rue du Banc",
                postal_code="59000" if country == "FR" else "1000",
                country=country,
                time_zone=zone,
                vat_rate=Decimal(vat),
                invoice_prefix=prefix,
                legal_name=f"{name} SAS",
                legal_form="SAS" if country == "FR" else "SRL",
                share_capital="10 000 €",
                registration_number="812345672",
                registry="RCS Lille Métropole" if country == "FR" else "RPM Bruxelles",
                vat_number=vat_number,
                email=f"{slug}@example.com",
            )
            spaces.append(space)
            if prefix in SEQUENCES_BEFORE:
                InvoiceSequence.objects.create(
                    space=space,
                    year=localtime.local_date(NOW, space.tz).year,
                    kind="invoice",
                    last_number=SEQUENCES_BEFORE[prefix],
                )
            for kind, plan_name, price, tiers, _ in PLANS:
                plan = Plan.objects.create(space=space, name=plan_name, kind=kind, unit_price=Decimal(price))
                PriceTier.objects.bulk_create(
                    PriceTier(plan=plan, first_period=first, unit_price=Decimal(p)) for first, p in tiers
                )
                plans.append(plan)
        terms = {plan.pk: plan.terms() for plan in plans}
        combos: dict[tuple[int, int, int], tuple[date, periods.Period]] = {}

        def combo(space_index: int, plan_index: int, number: int, offset: int) -> tuple[date, periods.Period]:
            # The anchor whose `number`-th period ends `offset` days after today at the space.
            key = (space_index, plan_index, number, offset)
            if key not in combos:
                space, plan = spaces[space_index], plans[space_index * len(PLANS) + plan_index]
                months = PERIOD_MONTHS[plan.kind]
                end = localtime.local_date(NOW, space.tz) + timedelta(days=offset)
                anchor = periods.add_months_anchored(end + timedelta(days=1), -months * number)
                period = periods.anchored_period(anchor, months, number - 1)
                if period.end != end:
                    raise RuntimeError(f"cannot seed a period ending on {end} (anchor {anchor})")
                combos[key] = (anchor, period)
            return combos[key]

        password = make_password(None)  # unusable, the same for all: hashing 100,000 would take minutes
        for first in range(0, passes, BATCH):
            numbers = range(first, min(first + BATCH, passes))
            users = User.objects.bulk_create(
                User(email=f"b4-{n:06d}@example.com", password=password, first_name="Bench", last_name=f"{n}")
                for n in numbers
            )
            Member.objects.bulk_create(
                Member(
                    user=user,
                    display_name=f"Membre {n}",
                    preferred_language="en" if n % 4 == 3 else "fr",
                    billing_name=f"Société {n} SARL" if n % 3 == 0 else "",
                    company=f"Société {n} SARL" if n % 3 == 0 else "",
                    billing_address=f"{n} rue de la Paix\n59000 Lille",
                    billing_country="BE" if n % 3 == 1 else "FR",
                    vat_number=f"FR{n:011d}" if n % 6 == 0 else "",
                    company_registration=f"{n:09d}" if n % 3 == 0 else "",
                )
                for n, user in zip(numbers, users, strict=True)
            )
            rows = []
            for n, user in zip(numbers, users, strict=True):
                space_index, plan_index = n % len(SPACES), 1 if n % 5 == 4 else 0
                number = 1 + (n // len(SPACES)) % PLANS[plan_index][4]
                anchor, period = combo(space_index, plan_index, number, (n // 2) % 2)
                plan = plans[space_index * len(PLANS) + plan_index]
                rows.append((user, plan, anchor, number, period))
            created = Pass.objects.bulk_create(
                Pass(
                    member=user,
                    plan=plan,
                    space_id=plan.space_id,
                    kind=plan.kind,
                    anchor_date=anchor,
                    auto_renew=True,
                )
                for user, plan, anchor, _, _ in rows
            )
            PassPeriod.objects.bulk_create(
                PassPeriod(
                    pass_obj=pass_obj,
                    number=number,
                    start_date=period.start,
                    end_date=period.end,
                    unit_price=pricing.unit_price_for(terms[plan.pk], number),
                    vat_rate=plan.space.vat_rate,
                )
                for pass_obj, (_, plan, _, number, period) in zip(created, rows, strict=True)
            )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM (ANALYZE)")  # as autovacuum would have done long before a renewal run
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone is the seeded state
    connection.close()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "migrate_seconds": round(migrated, 1),
        "spaces": {space.invoice_prefix: space.pk for space in spaces},
        "sequences_before": {
            f"{space.pk}:{localtime.local_date(NOW, space.tz).year}": SEQUENCES_BEFORE.get(
                space.invoice_prefix, 0
            )
            for space in spaces
        },
    }


# --- the job and the baseline (child processes, Django on a restored copy) ------------------------


class QueryStats:
    """An execute wrapper: count and time of the queries, per statement kind and table."""

    TABLE = re.compile(
        r'^\s*(SELECT|INSERT|DELETE)\b.*?\b(?:FROM|INTO)\s+"?(\w+)|^\s*(UPDATE)\s+"?(\w+)', re.S
    )

    def __init__(self) -> None:
        self.by_key: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            found = self.TABLE.match(sql)
            if found:
                verb, table = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
                key = f"{verb} {table}"
            else:
                key = sql.split(None, 1)[0].upper()
            entry = self.by_key.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.by_key.items(), key=lambda item: -item[1][1])
        return {
            "queries": sum(n for n, _ in self.by_key.values()),
            "sql_seconds": round(sum(s for _, s in self.by_key.values()), 3),
            "by_statement": {key: {"n": n, "seconds": round(s, 3)} for key, (n, s) in ordered},
        }


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _cpu_s() -> float:
    """CPU time of this process (user + system): the Python side, without the database server's."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from billing.gateways import OfflineGateway
    from billing.services import renew_due_passes

    now = datetime.fromisoformat(spec["now"])
    connection.ensure_connection()
    rss_before = _rss_mb()
    stats = QueryStats()
    profiler = tracing = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    if spec.get("tracemalloc"):
        import tracemalloc

        tracing = tracemalloc
        tracemalloc.start()
    with connection.execute_wrapper(stats):
        cpu = _cpu_s()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = renew_due_passes(now=now, gateway=OfflineGateway())
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = _cpu_s() - cpu
    rss_peak = _rss_mb()
    result: dict[str, Any] = {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "rss_after_setup_mb": round(rss_before, 1),
        "rss_peak_mb": round(rss_peak, 1),
        "rss_growth_mb": round(rss_peak - rss_before, 1),
        "report": {
            "examined": report.examined,
            "renewed": report.renewed,
            "expired": report.expired,
            "skipped": report.skipped,
        },
        **stats.summary(),
    }
    del report
    if tracing:
        result["tracemalloc_peak_mb"] = round(tracing.get_traced_memory()[1] / 2**20, 1)
        tracing.stop()
    if profiler:
        profiler.dump_stats(spec["profile"])
    return result


def _baseline_sql(vendor: str, lead: int, terms_days: int, created_at: str) -> list[str]:
    """The statements of the set-based baseline, after b4_space (one row per space: its local date, the
    renewal horizon, its seller snapshot and VAT mention) is filled."""
    pg = vendor == "postgresql"

    def add_months(day: str, months: str) -> str:
        if pg:
            return f"({day} + make_interval(months => {months}))::date"
        # SQLite's '+N months' overflows (31 January + 1 month = 3 March): clamp to the month's last day.
        return (
            f"min(date({day}, 'start of month', '+' || ({months}) || ' months', "
            f"'+' || (CAST(strftime('%d', {day}) AS INTEGER) - 1) || ' days'), "
            f"date({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day'))"
        )

    def minus_day(day: str) -> str:
        return f"({day} - 1)" if pg else f"date({day}, '-1 day')"

    def dmy(day: str) -> str:
        return f"to_char({day}, 'DD/MM/YYYY')" if pg else f"strftime('%d/%m/%Y', {day})"

    year = "extract(year FROM b.today)::int" if pg else "CAST(strftime('%Y', b.today) AS INTEGER)"
    due = (
        f"greatest(b.today, y.start_date) + {terms_days}"
        if pg
        else (f"date(max(b.today, y.start_date), '+{terms_days} days')")
    )
    # Money: net = round(price x 1), VAT = round(net x rate), both half up to the cent.
    if pg:
        net, vat = "round(y.unit_price, 2)", "round(round(y.unit_price, 2) * y.vat_rate / 100, 2)"
    else:  # SQLite holds decimals as REAL/INTEGER: count in cents
        cents = "CAST(round(y.unit_price * 100) AS INTEGER)"
        net = f"({cents} / 100.0)"
        vat = f"(({cents} * CAST(round(y.vat_rate * 100) AS INTEGER) + 5000) / 10000 / 100.0)"
    padded = "lpad(n.seq::text, greatest(5, length(n.seq::text)), '0')" if pg else "printf('%05d', n.seq)"
    buyer_fields = (
        "'name', coalesce(nullif(m.billing_name, ''), nullif(m.display_name, ''), u.email), "
        "'company', m.company, 'address', m.billing_address, 'country', m.billing_country, "
        "'vat_number', m.vat_number, 'registration', m.company_registration, 'email', u.email"
    )
    buyer = f"jsonb_build_object({buyer_fields})" if pg else f"json_object({buyer_fields})"
    # A digest of what the invoice says (PostgreSQL's sha256(); on SQLite a registered function).
    as_text = "::text" if pg else ""
    content = (
        "h.invoice_number || '|invoice|' || h.issue_date || '|' || h.due_date || '|' || "
        f"h.start_date || '|' || h.end_date || '|' || h.seller{as_text} || '|' || h.buyer{as_text} || '|' || "
        "h.currency || '|' || h.net || '|' || h.vat || '|' || (h.net + h.vat) || '|' || h.description"
    )
    content_hash = f"encode(sha256(convert_to({content}, 'UTF8')), 'hex')" if pg else f"b4_sha256({content})"
    stamp = f"'{created_at}'"
    return [
        # The due passes and their next period, price (tiers), amounts, dates and key.
        f"""
        CREATE TEMP TABLE b4_due AS
        SELECT y.pass_id, y.member_id, y.space_id, y.number, y.start_date, y.end_date, y.unit_price,
               y.vat_rate, y.currency, b.today AS issue_date, {year} AS year, {due} AS due_date,
               {net} AS net, {vat} AS vat,
               y.plan_name || ' · ' || {dmy("y.start_date")} || ' - ' || {dmy("y.end_date")} AS description,
               'renewal:' || y.pass_id || ':' || y.start_date AS key
        FROM (
            SELECT p.id AS pass_id, p.member_id, p.space_id, pl.name AS plan_name, lp.number + 1 AS number,
                   {add_months("p.anchor_date", "k.months * lp.number")} AS start_date,
                   {minus_day(add_months("p.anchor_date", "k.months * (lp.number + 1)"))} AS end_date,
                   coalesce((SELECT t.unit_price FROM billing_pricetier t
                             WHERE t.plan_id = p.plan_id AND t.first_period <= lp.number + 1
                             ORDER BY t.first_period DESC LIMIT 1), pl.unit_price) AS unit_price,
                   s.vat_rate, s.currency
            FROM billing_pass p
            JOIN (SELECT 'monthly' AS kind, 1 AS months UNION ALL SELECT 'annual', 12) k ON k.kind = p.kind
            JOIN b4_space b ON b.space_id = p.space_id
            JOIN spaces_space s ON s.id = p.space_id
            JOIN billing_plan pl ON pl.id = p.plan_id
            JOIN billing_passperiod lp ON lp.pass_id = p.id
                 AND lp.number = (SELECT max(x.number) FROM billing_passperiod x WHERE x.pass_id = p.id)
            WHERE p.status IN ('active', 'past_due') AND p.auto_renew AND lp.end_date <= b.horizon
        ) y
        JOIN b4_space b ON b.space_id = y.space_id
        """,  # noqa: S608 - constants only
        *(["ANALYZE b4_due"] if pg else []),
        """
        INSERT INTO billing_invoicesequence (space_id, year, kind, last_number)
        SELECT DISTINCT d.space_id, d.year, 'invoice', 0 FROM b4_due d
        WHERE NOT EXISTS (SELECT 1 FROM billing_invoicesequence q
                          WHERE q.space_id = d.space_id AND q.year = d.year AND q.kind = 'invoice')
        """,
        # Numbers: one block per space and year, from where the sequence stands, in pass order.
        f"""
        INSERT INTO billing_invoice (kind, space_id, member_id, number, year, sequence, status, corrects_id,
            issue_date, due_date, service_start, service_end, currency, net, vat, gross, language, seller,
            buyer, vat_note, idempotency_key, content_hash, created_at)
        SELECT 'invoice', h.space_id, h.member_id, h.invoice_number, h.year, h.seq,
               CASE WHEN h.net + h.vat = 0 THEN 'paid' ELSE 'issued' END, NULL, h.issue_date, h.due_date,
               h.start_date, h.end_date, h.currency, h.net, h.vat, h.net + h.vat, h.language, h.seller,
               h.buyer, h.vat_note, h.key, {content_hash}, {stamp}
        FROM (
            SELECT d.*, n.seq, s.invoice_prefix || '-' || d.year || '-' || {padded} AS invoice_number,
                   coalesce(nullif(m.preferred_language, ''), 'fr') AS language, b.seller, b.vat_note,
                   {buyer} AS buyer
            FROM (SELECT d.pass_id, q.last_number
                         + row_number() OVER (PARTITION BY d.space_id, d.year ORDER BY d.pass_id) AS seq
                  FROM b4_due d JOIN billing_invoicesequence q
                       ON q.space_id = d.space_id AND q.year = d.year AND q.kind = 'invoice') n
            JOIN b4_due d ON d.pass_id = n.pass_id
            JOIN b4_space b ON b.space_id = d.space_id
            JOIN spaces_space s ON s.id = d.space_id
            JOIN members_user u ON u.id = d.member_id
            JOIN members_member m ON m.user_id = d.member_id
        ) h
        ORDER BY h.pass_id
        """,  # noqa: S608
        """
        INSERT INTO billing_invoiceline (invoice_id, position, description, quantity, unit_price, vat_rate,
            net, vat, gross)
        SELECT i.id, 1, d.description, 1, d.unit_price, d.vat_rate, d.net, d.vat, d.net + d.vat
        FROM b4_due d JOIN billing_invoice i ON i.idempotency_key = d.key
        """,
        f"""
        INSERT INTO billing_passperiod (pass_id, number, start_date, end_date, unit_price, vat_rate,
            invoice_id, created_at)
        SELECT d.pass_id, d.number, d.start_date, d.end_date, d.unit_price, d.vat_rate, i.id, {stamp}
        FROM b4_due d JOIN billing_invoice i ON i.idempotency_key = d.key
        """,  # noqa: S608
        f"""
        INSERT INTO billing_payment (invoice_id, amount, method, status, received_on, reference, gateway,
            idempotency_key, recorded_by_id, created_at, intent_id, checkout_session_id, refunded)
        SELECT i.id, d.net + d.vat, 'offline', 'pending', NULL, '', 'offline', d.key, NULL, {stamp}, '', '', 0
        FROM b4_due d JOIN billing_invoice i ON i.idempotency_key = d.key
        WHERE d.net + d.vat > 0
        """,  # noqa: S608
        """
        UPDATE billing_invoicesequence SET last_number = last_number + (
            SELECT count(*) FROM b4_due d
            WHERE d.space_id = billing_invoicesequence.space_id AND d.year = billing_invoicesequence.year)
        WHERE kind = 'invoice' AND EXISTS (
            SELECT 1 FROM b4_due d
            WHERE d.space_id = billing_invoicesequence.space_id AND d.year = billing_invoicesequence.year)
        """,
        "DROP TABLE b4_due",
    ]


def run_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    import hashlib

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from billing.services import seller_snapshot, vat_note
    from spaces import localtime
    from spaces.models import Space

    now = datetime.fromisoformat(spec["now"])
    lead = settings.BILLING_RENEWAL_LEAD_DAYS
    ops = connection.ops
    # Per-space constants, as the job computes them once per space: local date, snapshot, VAT mention.
    space_rows = []
    for space in Space.objects.all():
        today = localtime.local_date(now, space.tz)
        space_rows.append(
            (
                space.pk,
                ops.adapt_datefield_value(today),
                ops.adapt_datefield_value(today + timedelta(days=lead)),
                json.dumps(seller_snapshot(space)),
                vat_note(space),
            )
        )
    created_at = str(ops.adapt_datetimefield_value(timezone.now()))
    statements = _baseline_sql(connection.vendor, lead, settings.BILLING_PAYMENT_TERMS_DAYS, created_at)
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "b4_sha256", 1, lambda text: hashlib.sha256(text.encode()).hexdigest(), deterministic=True
        )
        columns = "space_id integer, today text, horizon text, seller text, vat_note text"
    else:
        columns = "space_id bigint, today date, horizon date, seller jsonb, vat_note text"
    space_table = f"CREATE TEMP TABLE b4_space ({columns})"
    rss_before = _rss_mb()
    stats = QueryStats()
    with connection.execute_wrapper(stats):
        cpu = _cpu_s()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(space_table)
            cursor.executemany("INSERT INTO b4_space VALUES (%s, %s, %s, %s, %s)", space_rows)
            for statement in statements:
                cursor.execute(statement)
            cursor.execute("DROP TABLE b4_space")
        seconds = time.perf_counter() - started
        cpu = _cpu_s() - cpu
    rss_peak = _rss_mb()
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "rss_after_setup_mb": round(rss_before, 1),
        "rss_peak_mb": round(rss_peak, 1),
        **stats.summary(),
    }


def verify(dump: str | None) -> dict[str, Any]:
    """What the run wrote (read after the measurement): counts, numbering, and optionally every row."""
    from django.db.models import Count, Max, Min

    from billing.models import Invoice, InvoiceLine, InvoiceSequence, PassPeriod, Payment

    checks: dict[str, Any] = {
        "periods_total": PassPeriod.objects.count(),
        "periods_new": PassPeriod.objects.filter(invoice__isnull=False).count(),
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "payments_pending": Payment.objects.filter(status="pending", gateway="offline").count(),
        "payments_total": Payment.objects.count(),
        "invoices_without_one_line": Invoice.objects.annotate(n=Count("lines")).exclude(n=1).count(),
        "content_hashes_not_64": Invoice.objects.exclude(content_hash__regex=r"^[0-9a-f]{64}$").count(),
    }
    blocks = Invoice.objects.values("space_id", "year", "kind").annotate(
        n=Count("id"), distinct=Count("sequence", distinct=True), lo=Min("sequence"), hi=Max("sequence")
    )
    sequences = {
        f"{s['space_id']}:{s['year']}": s["last_number"]
        for s in InvoiceSequence.objects.filter(kind="invoice").values("space_id", "year", "last_number")
    }
    checks["blocks"] = {
        f"{b['space_id']}:{b['year']}": {
            "n": b["n"],
            "distinct": b["distinct"],
            "first": b["lo"],
            "last": b["hi"],
            "sequence_last_number": sequences.get(f"{b['space_id']}:{b['year']}"),
        }
        for b in blocks
        if b["kind"] == "invoice"
    }
    bad_numbers = 0
    for number, prefix, year, sequence in Invoice.objects.values_list(
        "number", "space__invoice_prefix", "year", "sequence"
    ).iterator(chunk_size=10_000):
        bad_numbers += number != f"{prefix}-{year}-{sequence:05d}"
    checks["numbers_not_matching_sequence"] = bad_numbers
    if dump:
        _dump_rows(dump)
    return checks


def _dump_rows(path: str) -> None:
    """Every row written, one JSON line each, in a stable order, without ids, hashes or timestamps."""
    from billing.models import InvoiceLine, PassPeriod, Payment

    def normal(value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        if isinstance(value, str) and value[:1] in "{[":  # JSON read as text
            try:
                return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
            except ValueError:
                return value
        return str(value) if value is not None else None

    invoice = [
        "number",
        "kind",
        "space",
        "member",
        "year",
        "sequence",
        "status",
        "corrects",
        "issue_date",
        "due_date",
        "service_start",
        "service_end",
        "currency",
        "net",
        "vat",
        "gross",
        "language",
        "seller",
        "buyer",
        "vat_note",
        "idempotency_key",
    ]
    period = ["pass_obj_id", "number", "start_date", "end_date", "unit_price", "vat_rate"]
    line = [
        "invoice__number",
        "position",
        "description",
        "quantity",
        "unit_price",
        "vat_rate",
        "net",
        "vat",
        "gross",
    ]
    payment = [
        "invoice__number",
        "amount",
        "method",
        "status",
        "received_on",
        "reference",
        "gateway",
        "idempotency_key",
        "recorded_by",
    ]
    queries = [
        PassPeriod.objects.filter(invoice__isnull=False)
        .order_by("pass_obj_id")
        .values_list(*period, *(f"invoice__{name}" for name in invoice)),
        InvoiceLine.objects.order_by("invoice__number", "position").values_list(*line),
        Payment.objects.order_by("invoice__number").values_list(*payment),
    ]
    with open(path, "w", encoding="utf-8") as out:
        for query in queries:
            for row in query.iterator(chunk_size=10_000):
                out.write(json.dumps([normal(v) for v in row], ensure_ascii=False) + "\n")


def child(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DEBUG"] = "0"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.db import connections

    try:
        if mode == "seed":
            return seed(spec["passes"])
        result = run_job(spec) if mode == "job" else run_baseline(spec)
        result["checks"] = verify(spec.get("dump"))
        return result
    finally:
        connections.close_all()


# --- the driver -------------------------------------------------------------------------------------


class Databases:
    """The seed and the run database, on PostgreSQL or as SQLite files."""

    def __init__(self, backend: str, server: str | None) -> None:
        self.backend = backend
        self.server = server
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-b4-"))
        if backend == "postgresql":
            self.seed_db, self.run_db = f"{DB_PREFIX}seed_{os.getpid()}", f"{DB_PREFIX}run_{os.getpid()}"
            self.seed_url = with_database(server, self.seed_db)
            self.run_url = with_database(server, self.run_db)
        else:
            self.seed_file, self.run_file = self.tmp / "seed.sqlite3", self.tmp / "run.sqlite3"
            self.seed_url, self.run_url = f"sqlite:///{self.seed_file}", f"sqlite:///{self.run_file}"

    def _stale(self) -> list[str]:
        """Databases left by runs that died on this machine (a server elsewhere: none, pids mean nothing)."""
        import psycopg

        if urlsplit(self.server).hostname not in {"127.0.0.1", "localhost", "::1"}:
            return []
        with psycopg.connect(self.server, autocommit=True, connect_timeout=3) as conn:
            names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
        stale = []
        for name in names:
            found = re.fullmatch(rf"{DB_PREFIX}(?:seed|run)_(\d+)", name)
            if found and not Path(f"/proc/{found.group(1)}").exists():
                stale.append(name)
        return stale

    def create_seed(self) -> None:
        if self.backend == "postgresql":
            stale = self._stale() if Path("/proc/self").exists() else []
            admin(
                self.server,
                *(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" for name in stale),
                f"DROP DATABASE IF EXISTS {self.run_db} WITH (FORCE)",
                f"DROP DATABASE IF EXISTS {self.seed_db} WITH (FORCE)",
                f"CREATE DATABASE {self.seed_db}",
            )

    def restore(self) -> None:
        """The run database, as the seed left it."""
        if self.backend == "postgresql":
            # A file-level copy of the seed; the checkpoint flushes it before anything is timed.
            admin(
                self.server,
                f"DROP DATABASE IF EXISTS {self.run_db} WITH (FORCE)",
                f"CREATE DATABASE {self.run_db} TEMPLATE {self.seed_db}",
                "CHECKPOINT",
            )
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.run_file}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.seed_file, self.run_file)

    def cleanup(self, keep: bool) -> None:
        if self.backend == "postgresql" and not keep:
            admin(
                self.server,
                f"DROP DATABASE IF EXISTS {self.run_db} WITH (FORCE)",
                f"DROP DATABASE IF EXISTS {self.seed_db} WITH (FORCE)",
            )
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def names(self) -> str:
        return f"{self.seed_db}, {self.run_db}" if self.backend == "postgresql" else str(self.tmp)


def spawn(mode: str, url: str, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "0"}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--spec", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"the {mode} process exited {done.returncode} without a result") from None
    if "error" in result:
        raise RuntimeError(f"the {mode} process failed: {result['error']}")
    return result


def choose_backend(wanted: str) -> tuple[str, str | None, str]:
    """(backend, PostgreSQL maintenance URL or None, server version or why not PostgreSQL)."""
    import sqlite3

    if wanted in {"auto", "postgresql"}:
        import psycopg

        server = server_url()
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]
            return "postgresql", server, f"PostgreSQL {version}"
        except psycopg.Error as exc:
            if wanted == "postgresql":
                where = f"{urlsplit(server).hostname or '?'}:{urlsplit(server).port or 5432}"
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise LookupError(f"{where}: {first}") from None
    return "sqlite", None, f"SQLite {sqlite3.sqlite_version}"


def expected_problems(checks: dict[str, Any], passes: int, before: dict[str, int]) -> list[str]:
    problems = []
    wanted = {
        "periods_total": 2 * passes,
        "periods_new": passes,
        "invoices": passes,
        "lines": passes,
        "payments_pending": passes,
        "payments_total": passes,
        "invoices_without_one_line": 0,
        "content_hashes_not_64": 0,
        "numbers_not_matching_sequence": 0,
    }
    for key, value in wanted.items():
        if checks[key] != value:
            problems.append(f"{key}={checks[key]} (expected {value})")
    total = 0
    for key, block in checks["blocks"].items():
        total += block["n"]
        first = before.get(key, 0) + 1
        if not (
            block["first"] == first
            and block["last"] == first + block["n"] - 1
            and block["distinct"] == block["n"]
            and block["sequence_last_number"] == block["last"]
        ):
            problems.append(f"numbers of space:year {key} are not {first}..(sequence) without gaps: {block}")
    if total != passes:
        problems.append(f"{total} numbered invoices (expected {passes})")
    return problems


def first_difference(left: Path, right: Path) -> str | None:
    with open(left, encoding="utf-8") as a, open(right, encoding="utf-8") as b:
        for number, (x, y) in enumerate(zip(a, b, strict=False), start=1):
            if x != y:
                return f"row {number}: job {x.strip()} != baseline {y.strip()}"
        rest_a, rest_b = a.readline(), b.readline()
        if rest_a or rest_b:
            return f"one side wrote more rows: job {rest_a.strip()!r}, baseline {rest_b.strip()!r}"
    return None


def profile_digest(path: str, limit: int = 30) -> dict[str, list[str]]:
    import io
    import pstats

    digest = {}
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(path, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(limit)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        digest[key] = lines[start:]
    return digest


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        backend, server, version = choose_backend(args.database)
    except LookupError as exc:
        return {"skipped": "needs PostgreSQL", "detail": str(exc)}
    dbs = Databases(backend, server)
    passes, rounds = args.passes, args.rounds
    started = time.monotonic()
    try:
        dbs.create_seed()
        seeded = spawn("seed", dbs.seed_url, {"passes": passes})
        log(f"seeded {passes:,} due passes on {version} in {seeded['seconds']} s")
        spec = {"now": NOW.isoformat()}
        runs: dict[str, list[dict[str, Any]]] = {"job": [], "baseline": []}
        problems: list[str] = []
        for round_ in range(rounds):
            sides = ("job", "baseline") if round_ % 2 == 0 else ("baseline", "job")
            for side in sides:
                dbs.restore()
                dump = str(dbs.tmp / f"{side}.rows") if round_ == 0 else None
                result = spawn(side, dbs.run_url, {**spec, "dump": dump})
                runs[side].append(result)
                log(f"round {round_ + 1}/{rounds}: {side} {result['seconds']:.2f} s")
                found = expected_problems(result["checks"], passes, seeded["sequences_before"])
                problems += [f"{side}: {problem}" for problem in found]
                if side == "job" and result["report"]["renewed"] != passes:
                    problems.append(f"job: the report says {result['report']} (expected {passes} renewed)")
        difference = first_difference(dbs.tmp / "job.rows", dbs.tmp / "baseline.rows")
        if difference:
            problems.append(f"the job and the baseline wrote different rows: {difference}")
        extra: dict[str, Any] = {}
        if args.profile:
            dbs.restore()
            log("profiling the job (cProfile, not timed)")
            profiled = spawn("job", dbs.run_url, {**spec, "profile": str(Path(args.profile).resolve())})
            extra["profile"] = {
                "file": str(Path(args.profile).resolve()),
                "seconds_under_cprofile": profiled["seconds"],
                "by_statement": profiled["by_statement"],
                **profile_digest(args.profile),
            }
        if args.tracemalloc:
            dbs.restore()
            log("running the job under tracemalloc (not timed)")
            traced = spawn("job", dbs.run_url, {**spec, "tracemalloc": True})
            extra["tracemalloc_peak_mb"] = traced["tracemalloc_peak_mb"]
            extra["tracemalloc_rss_peak_mb"] = traced["rss_peak_mb"]
    finally:
        dbs.cleanup(args.keep)
    job_s = [r["seconds"] for r in runs["job"]]
    base_s = [r["seconds"] for r in runs["baseline"]]
    job_median, base_median = statistics.median(job_s), statistics.median(base_s)
    peak = max(r["rss_peak_mb"] for r in runs["job"])
    first_job = runs["job"][0]
    return {
        "ratio": round(job_median / base_median, 4),
        "passes": passes,
        "rounds": rounds,
        "database": version,
        "job_seconds": job_s,
        "baseline_seconds": base_s,
        "job_median_s": job_median,
        # The job's own CPU (Python, ORM, driver): the rest of its time is spent waiting for the database.
        "job_cpu_seconds": [r["cpu_seconds"] for r in runs["job"]],
        "baseline_median_s": base_median,
        "job_passes_per_s": round(passes / job_median),
        "peak_rss_mb": peak,
        "rss_after_setup_mb": max(r["rss_after_setup_mb"] for r in runs["job"]),
        "rss_growth_mb": max(r["rss_growth_mb"] for r in runs["job"]),
        "rss_limit_mb": RSS_LIMIT_MB,
        "baseline_peak_rss_mb": max(r["rss_peak_mb"] for r in runs["baseline"]),
        "job_queries": first_job["queries"],
        "job_sql_seconds": [r["sql_seconds"] for r in runs["job"]],
        "job_by_statement": first_job["by_statement"],
        "baseline_by_statement": runs["baseline"][0]["by_statement"],
        "report": first_job["report"],
        "checks": {"job": first_job["checks"], "baseline": runs["baseline"][0]["checks"]},
        "problems": problems,
        "rows_identical": not any("different rows" in p for p in problems),
        "seed": seeded,
        "now": NOW.isoformat(),
        "scratch": dbs.names + (" (kept)" if args.keep else " (dropped)"),
        "seconds": round(time.monotonic() - started, 1),
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=env_int("BENCH_B4_PASSES", DEFAULT_PASSES))
    parser.add_argument(
        "--rounds", type=int, default=3, help="job/baseline pairs (default 3); BENCH_B4_ROUNDS, if set, wins"
    )
    parser.add_argument(
        "--database",
        choices=("auto", "postgresql", "sqlite"),
        default=os.environ.get("BENCH_B4_DATABASE", "").strip().lower() or "auto",
    )
    parser.add_argument("--keep", action="store_true", help="leave the databases (and the temp dir) in place")
    parser.add_argument("--profile", metavar="FILE", help="also run the job under cProfile into FILE")
    parser.add_argument("--tracemalloc", action="store_true", help="also run the job under tracemalloc")
    parser.add_argument("--child", choices=("seed", "job", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = env_int("BENCH_B4_ROUNDS", args.rounds)  # the harness passes its own --rounds
    if args.passes < 1 or args.rounds < 1:
        parser.error("--passes and --rounds must be at least 1")
    try:
        result = child(args.child, json.loads(args.spec)) if args.child else run(args)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
