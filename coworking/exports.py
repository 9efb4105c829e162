"""CSV exports for the managers of a space and their accountant: bookings, invoices, invoice lines and
payments over a date range, limited to the spaces the manager runs.

Two formats. Plain CSV (comma, UTF-8, dot decimals, ISO dates) is for software. "Excel FR" (semicolon,
UTF-8 with a byte-order mark, decimal comma, dd/mm/yyyy) is for French Excel, which reads a file without a
BOM as Windows-1252 and splits columns on the list separator of the French locale, the semicolon.

Rows are read with one query through iterator(), so an export takes constant memory whatever its size.
A small export streams in the response; a large one is written to the default storage by a Celery task
(coworking.tasks.export_csv), whose progress lives in the cache: there is no job model, and a job and its
file are only kept for JOB_TIMEOUT.
"""

import csv
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from billing.models import (
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.money import round_money
from bookings.models import Booking, BookingStatus, DayPart
from spaces.models import ResourceKind

# Rows fetched from the database cursor at a time, and rows written between two progress reports.
CHUNK_SIZE = 2000
# Rows per piece of a streamed response: fewer, larger writes than one per row.
STREAM_BATCH = 500
# Above this many rows an export runs as a Celery task (settings.EXPORT_STREAM_MAX_ROWS overrides it).
STREAM_MAX_ROWS = 5000
# The longest range an export may cover, in days, both ends included (a leap year).
MAX_DAYS = 366
# How long a background job's state and its file are kept.
JOB_TIMEOUT = 7 * 24 * 3600
STORAGE_DIR = "exports"

BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP): text
# that could come from a member (a name, a reference) is prefixed with an apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportKind(models.TextChoices):
    BOOKINGS = "bookings", _("Bookings")
    INVOICES = "invoices", _("Invoices")
    INVOICE_LINES = "invoice_lines", _("Invoice lines")
    PAYMENTS = "payments", _("Payments")


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV (comma, UTF-8)")
    EXCEL_FR = "excel_fr", _("Excel FR (semicolon, UTF-8 with BOM, decimal comma)")


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    RUNNING = "running", _("In progress")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


@dataclass(frozen=True)
class ExportSpec:
    """What to export. `space_ids` None means every space (a superuser's "all spaces")."""

    kind: str
    space_ids: tuple[int, ...] | None
    start: date
    end: date
    file_format: str

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "space_ids": list(self.space_ids) if self.space_ids is not None else None,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "file_format": self.file_format,
        }

    @classmethod
    def from_json(cls, data: dict) -> "ExportSpec":
        space_ids = data["space_ids"]
        return cls(
            kind=ExportKind(data["kind"]),
            space_ids=tuple(space_ids) if space_ids is not None else None,
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            file_format=ExportFormat(data["file_format"]),
        )

    @property
    def filename(self) -> str:
        return f"{self.kind}_{self.start.isoformat()}_{self.end.isoformat()}.csv"

    @property
    def excel_fr(self) -> bool:
        return self.file_format == ExportFormat.EXCEL_FR


# --- cells -----------------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def format_cell(value: Any, *, excel_fr: bool) -> str:
    """One cell as text. Numbers and dates are ours and written as such (a credit note's "-12.00" is
    not a formula); any other text goes through neutralise()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, Decimal):
        figures = f"{value:f}"
        return figures.replace(".", ",") if excel_fr else figures
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M" if excel_fr else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if excel_fr else value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return neutralise(str(value))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(instant: datetime | None, zone: str) -> datetime | None:
    return instant.astimezone(_zone(zone)) if instant is not None else None


def _money_field() -> DecimalField:
    return DecimalField(max_digits=12, decimal_places=2)


def _in_spaces(queryset: QuerySet, lookup: str, spec: ExportSpec) -> QuerySet:
    if spec.space_ids is None:
        return queryset
    return queryset.filter(**{f"{lookup}__in": spec.space_ids})


# --- tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One kind of export: its column titles; `select` (the rows in the range and the spaces, which
    is also what is counted); `read` (the values a row needs, joined and ordered: one query); `row`
    (the cells of one row)."""

    headers: tuple[Any, ...]
    select: Callable[[ExportSpec], QuerySet]
    read: Callable[[QuerySet], QuerySet]
    row: Callable[[dict], list]


BOOKING_STATUSES = dict(BookingStatus.choices)
DAY_PARTS = dict(DayPart.choices)
RESOURCE_KINDS = dict(ResourceKind.choices)
DOCUMENT_KINDS = dict(DocumentKind.choices)
INVOICE_STATUSES = dict(InvoiceStatus.choices)
PAYMENT_METHODS = dict(PaymentMethod.choices)
PAYMENT_STATUSES = dict(PaymentStatus.choices)


def _bookings(spec: ExportSpec) -> QuerySet:
    return _in_spaces(Booking.objects.filter(local_date__range=(spec.start, spec.end)), "space_id", spec)


def _read_bookings(queryset: QuerySet) -> QuerySet:
    return queryset.order_by("local_date", "start", "pk").values(
        "local_date",
        "space__name",
        "space__time_zone",
        "resource__name",
        "resource__kind",
        "part",
        "start",
        "end",
        "member__member__display_name",
        "member__email",
        "status",
        "booked_by__email",
        "cancelled_at",
        "cancellation_reason",
    )


def _booking_row(values: dict) -> list:
    zone = values["space__time_zone"]
    return [
        values["local_date"],
        values["space__name"],
        values["resource__name"],
        RESOURCE_KINDS.get(values["resource__kind"], values["resource__kind"]),
        DAY_PARTS.get(values["part"], values["part"]),
        _local(values["start"], zone).time(),
        _local(values["end"], zone).time(),
        values["member__member__display_name"],
        values["member__email"],
        BOOKING_STATUSES.get(values["status"], values["status"]),
        values["booked_by__email"],
        _local(values["cancelled_at"], zone),
        values["cancellation_reason"],
    ]


def _paid_subquery(outer: str) -> Coalesce:
    paid = (
        Payment.objects.filter(invoice=OuterRef(outer), status=PaymentStatus.SUCCEEDED)
        .order_by()
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(
        Subquery(paid, output_field=_money_field()), Value(Decimal("0.00")), output_field=_money_field()
    )


def _invoices(spec: ExportSpec) -> QuerySet:
    return _in_spaces(Invoice.objects.filter(issue_date__range=(spec.start, spec.end)), "space_id", spec)


def _read_invoices(queryset: QuerySet) -> QuerySet:
    return (
        queryset.annotate(paid_amount=_paid_subquery("pk"))
        .order_by("issue_date", "space_id", "kind", "sequence")
        .values(
            "number",
            "kind",
            "corrects__number",
            "issue_date",
            "due_date",
            "space__name",
            "buyer",
            "net",
            "vat",
            "gross",
            "currency",
            "status",
            "paid_amount",
        )
    )


def _invoice_row(values: dict) -> list:
    buyer = values["buyer"] or {}
    # As on the invoice's admin page: nothing is due on a credit note, nor on an invoice a credit note
    # cancelled (what a member paid on one is refunded against the credit note).
    payable = values["kind"] == DocumentKind.INVOICE and values["status"] != InvoiceStatus.CREDITED
    # SQLite sums decimals without their scale (100, not 100.00): written as money, like the rest.
    paid = round_money(values["paid_amount"], values["currency"])
    return [
        values["number"],
        DOCUMENT_KINDS.get(values["kind"], values["kind"]),
        values["corrects__number"],
        values["issue_date"],
        values["due_date"],
        values["space__name"],
        buyer.get("name", ""),
        buyer.get("company", ""),
        buyer.get("vat_number", ""),
        values["net"],
        values["vat"],
        values["gross"],
        values["currency"],
        INVOICE_STATUSES.get(values["status"], values["status"]),
        paid,
        values["gross"] - paid if payable else None,
    ]


def _invoice_lines(spec: ExportSpec) -> QuerySet:
    queryset = InvoiceLine.objects.filter(invoice__issue_date__range=(spec.start, spec.end))
    return _in_spaces(queryset, "invoice__space_id", spec)


def _read_invoice_lines(queryset: QuerySet) -> QuerySet:
    return queryset.order_by(
        "invoice__issue_date", "invoice__space_id", "invoice__kind", "invoice__sequence", "position"
    ).values(
        "invoice__number",
        "invoice__kind",
        "invoice__issue_date",
        "invoice__space__name",
        "invoice__buyer",
        "position",
        "description",
        "quantity",
        "unit_price",
        "vat_rate",
        "net",
        "vat",
        "gross",
        "invoice__currency",
    )


def _invoice_line_row(values: dict) -> list:
    buyer = values["invoice__buyer"] or {}
    return [
        values["invoice__number"],
        DOCUMENT_KINDS.get(values["invoice__kind"], values["invoice__kind"]),
        values["invoice__issue_date"],
        values["invoice__space__name"],
        buyer.get("name", ""),
        values["position"],
        values["description"],
        values["quantity"],
        values["unit_price"],
        values["vat_rate"],
        values["net"],
        values["vat"],
        values["gross"],
        values["invoice__currency"],
    ]


def _payments(spec: ExportSpec) -> QuerySet:
    # A payment's day is the day the money was received; a card attempt that has none yet counts on the
    # day it was made (in the site's time zone, the one TruncDate uses).
    queryset = Payment.objects.annotate(
        day=Coalesce("received_on", TruncDate("created_at"), output_field=models.DateField())
    ).filter(day__range=(spec.start, spec.end))
    return _in_spaces(queryset, "invoice__space_id", spec)


def _read_payments(queryset: QuerySet) -> QuerySet:
    return queryset.order_by("day", "pk").values(
        "day",
        "invoice__number",
        "invoice__space__name",
        "invoice__buyer",
        "amount",
        "invoice__currency",
        "method",
        "status",
        "reference",
        "recorded_by__email",
    )


def _payment_row(values: dict) -> list:
    buyer = values["invoice__buyer"] or {}
    return [
        values["day"],
        values["invoice__number"],
        values["invoice__space__name"],
        buyer.get("name", ""),
        values["amount"],
        values["invoice__currency"],
        PAYMENT_METHODS.get(values["method"], values["method"]),
        PAYMENT_STATUSES.get(values["status"], values["status"]),
        values["reference"],
        values["recorded_by__email"],
    ]


TABLES: dict[str, Table] = {
    ExportKind.BOOKINGS: Table(
        headers=(
            _("Date"),
            _("Space"),
            _("Desk or room"),
            _("kind"),
            _("part of the day"),
            _("Start (local time)"),
            _("End (local time)"),
            _("Member"),
            _("E-mail address"),
            _("Status"),
            _("Booked by"),
            _("cancelled at"),
            _("cancellation reason"),
        ),
        select=_bookings,
        read=_read_bookings,
        row=_booking_row,
    ),
    ExportKind.INVOICES: Table(
        headers=(
            _("Number"),
            _("kind"),
            _("corrects invoice"),
            _("issue date"),
            _("due date"),
            _("Space"),
            _("Buyer"),
            _("company"),
            _("VAT number"),
            _("total excl. VAT"),
            _("VAT"),
            _("total incl. VAT"),
            _("currency"),
            _("Status"),
            _("amount paid"),
            _("still due"),
        ),
        select=_invoices,
        read=_read_invoices,
        row=_invoice_row,
    ),
    ExportKind.INVOICE_LINES: Table(
        headers=(
            _("Invoice"),
            _("kind"),
            _("issue date"),
            _("Space"),
            _("Buyer"),
            _("position"),
            _("description"),
            _("quantity"),
            _("unit price excl. VAT"),
            _("VAT rate (%)"),
            _("excl. VAT"),
            _("VAT"),
            _("incl. VAT"),
            _("currency"),
        ),
        select=_invoice_lines,
        read=_read_invoice_lines,
        row=_invoice_line_row,
    ),
    ExportKind.PAYMENTS: Table(
        headers=(
            _("Date"),
            _("Invoice"),
            _("Space"),
            _("Buyer"),
            _("amount"),
            _("currency"),
            _("method"),
            _("Status"),
            _("reference"),
            _("Recorded by"),
        ),
        select=_payments,
        read=_read_payments,
        row=_payment_row,
    ),
}


def export_headers(*, kind: str) -> list[str]:
    """The column titles of `kind` in the active language."""
    return [capfirst(str(header)) for header in TABLES[kind].headers]


def export_count(*, spec: ExportSpec) -> int:
    """How many rows the export will have: one COUNT query."""
    return TABLES[spec.kind].select(spec).count()


def export_rows(*, spec: ExportSpec) -> Iterator[list]:
    """The rows of the export as Python values (dates, decimals, text), read in chunks from one query."""
    table = TABLES[spec.kind]
    for values in table.read(table.select(spec)).iterator(chunk_size=CHUNK_SIZE):
        yield table.row(values)


# --- writing ---------------------------------------------------------------------------------------


class _Echo:
    """A file for csv.writer that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(
    *, spec: ExportSpec, on_progress: Callable[[int], None] | None = None, batch: int = STREAM_BATCH
) -> Iterator[bytes]:
    """The export as UTF-8 pieces of `batch` rows (the BOM and the header line first); `on_progress`
    is told the rows written so far every CHUNK_SIZE rows."""
    excel_fr = spec.excel_fr
    writer = csv.writer(_Echo(), delimiter=";" if excel_fr else ",", lineterminator="\r\n")
    head = writer.writerow([neutralise(title) for title in export_headers(kind=spec.kind)])
    yield ((BOM if excel_fr else "") + head).encode()
    lines: list[str] = []
    done = 0
    for row in export_rows(spec=spec):
        lines.append(writer.writerow([format_cell(value, excel_fr=excel_fr) for value in row]))
        done += 1
        if len(lines) >= batch:
            yield "".join(lines).encode()
            lines = []
        if on_progress is not None and done % CHUNK_SIZE == 0:
            on_progress(done)
    if lines:
        yield "".join(lines).encode()
    if on_progress is not None:
        on_progress(done)


def export_stream(*, spec: ExportSpec, language: str) -> Iterator[bytes]:
    """csv_chunks() for a streamed response: a streamed body is produced after the view has returned,
    so the language is set again while it is."""
    with translation.override(language):
        yield from csv_chunks(spec=spec)


def export_write(*, spec: ExportSpec, name: str, on_progress: Callable[[int], None] | None = None) -> str:
    """Writes the export to the default storage under `name` through a temporary file (constant
    memory); returns the stored name."""
    with tempfile.TemporaryFile() as spool:
        for chunk in csv_chunks(spec=spec, on_progress=on_progress, batch=CHUNK_SIZE):
            spool.write(chunk)
        spool.seek(0)
        if default_storage.exists(name):
            # A second run of the same job (a redelivered task) replaces the first one's file.
            default_storage.delete(name)
        return default_storage.save(name, File(spool, name=name))


# --- background jobs -------------------------------------------------------------------------------


def _job_key(job_id: str) -> str:
    return f"exports:job:{job_id}"


def job_create(*, owner_id: int, spec: ExportSpec, total: int, language: str) -> str:
    """Records a background export (its state lives in the cache for JOB_TIMEOUT); returns its id."""
    job_id = str(uuid.uuid4())
    cache.set(
        _job_key(job_id),
        {
            "owner_id": owner_id,
            "spec": spec.as_json(),
            "language": language,
            "status": JobStatus.PENDING.value,
            "done": 0,
            "total": total,
            "file": "",
            "filename": spec.filename,
        },
        timeout=JOB_TIMEOUT,
    )
    return job_id


def job_get(*, job_id: str) -> dict | None:
    return cache.get(_job_key(job_id))


def job_update(*, job_id: str, **changes: Any) -> dict | None:
    # The task is the job's only writer once it is queued, so read-modify-write does not race.
    job = job_get(job_id=job_id)
    if job is None:
        return None
    job.update(changes)
    cache.set(_job_key(job_id), job, timeout=JOB_TIMEOUT)
    return job


def job_run(*, job_id: str) -> str:
    """Writes a background export's file and reports its progress; a second run of a finished job, or
    of one whose state has expired, does nothing. Returns the job's final status."""
    job = job_get(job_id=job_id)
    if job is None:
        return "missing"
    if job["status"] == JobStatus.DONE:
        return job["status"]
    spec = ExportSpec.from_json(job["spec"])
    job_update(job_id=job_id, status=JobStatus.RUNNING.value, done=0)
    written = [0]

    def progress(done: int) -> None:
        written[0] = done
        job_update(job_id=job_id, done=done)

    try:
        with translation.override(job["language"]):
            name = export_write(spec=spec, name=f"{STORAGE_DIR}/{job_id}.csv", on_progress=progress)
    except Exception:
        job_update(job_id=job_id, status=JobStatus.FAILED.value)
        raise
    # Rows booked or paid since the count are in the file too: the total is what was written.
    job_update(job_id=job_id, status=JobStatus.DONE.value, file=name, done=written[0], total=written[0])
    return JobStatus.DONE.value


def export_files_purge(*, now: datetime | None = None) -> int:
    """Deletes the export files older than JOB_TIMEOUT (their jobs have expired from the cache, and the
    files hold members' personal data); returns how many were deleted."""
    now = now or timezone.now()
    try:
        _dirs, files = default_storage.listdir(STORAGE_DIR)
    except FileNotFoundError:
        return 0
    deleted = 0
    for filename in files:
        name = f"{STORAGE_DIR}/{filename}"
        if now - default_storage.get_modified_time(name) > timedelta(seconds=JOB_TIMEOUT):
            default_storage.delete(name)
            deleted += 1
    return deleted
