"""CSV exports for managers (/admin/exports/): bookings, invoices, invoice lines and payments of a date
range, as plain CSV or as "Excel FR"; only the manager's own spaces; small exports stream, large ones
run in the background with a progress page; every export is in the audit log."""

import csv
import io
import os
import re
import shutil
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from kombu.exceptions import OperationalError

from billing import pricing, services
from billing.models import Payment, PaymentStatus
from bookings.models import BookingStatus, DayPart
from coworking import exports, tasks
from members.models import AuditEntry
from spaces.models import ResourceKind
from tests.factories import (
    BookingFactory,
    ManagerFactory,
    ResourceFactory,
    SpaceFactory,
    UserFactory,
    ZoneFactory,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 3, 10, tzinfo=PARIS)
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
HYPERLINK = '=HYPERLINK("http://evil.example/x","Click")'
BOM = "\ufeff"
FORM_URL = "/admin/exports/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(request):
    # The browser test runs a live server and Chromium in real time.
    if request.node.get_closest_marker("browser") is None:
        request.getfixturevalue("time_machine").move_to(NOW, tick=False)


@pytest.fixture
def paris():
    return SpaceFactory(name="Paris Bastille", slug="paris", invoice_prefix="PAR")


@pytest.fixture
def lille():
    return SpaceFactory(name="Lille Centre", slug="lille", invoice_prefix="LIL")


@pytest.fixture
def yanis(paris):
    return ManagerFactory(email="yanis@example.com", spaces=[paris])


@pytest.fixture
def louise(lille):
    return ManagerFactory(email="louise@example.com", spaces=[lille])


@pytest.fixture
def as_yanis(english, yanis):
    english.force_login(yanis)
    return english


@pytest.fixture
def camille():
    return UserFactory(
        email="camille@example.com",
        member__display_name="Camille Martin",
        member__company="Atelier Martin",
        member__vat_number="FR40123456789",
    )


@pytest.fixture
def mallory():
    return UserFactory(email="mallory@example.com", member__display_name=HYPERLINK)


def issue(space, member, day, *lines):
    return services.invoice_issue(
        space=space,
        member=member,
        lines=[
            pricing.make_line(text, Decimal(qty), Decimal(price), Decimal("0.20"))
            for text, qty, price in lines
        ],
        issue_date=day,
        due_date=day + timedelta(days=10),
    )


@pytest.fixture
def data(paris, lille, yanis, camille, mallory):
    """Paris: two bookings in November (one cancelled by Yanis), one in October; two invoices in
    November (one partly paid, one cancelled by a credit note) and one in October paid in November.
    Lille: a booking, an invoice and a payment in November that Yanis must never see."""
    open_space = ZoneFactory(space=paris, name="Open space")
    desk = ResourceFactory(zone=open_space, name="Bureau 01")
    room = ResourceFactory(zone=open_space, name="Salle Lumière", kind=ResourceKind.MEETING_ROOM)
    BookingFactory(resource=desk, member=camille, day=date(2026, 11, 24))
    BookingFactory(
        resource=room,
        member=mallory,
        day=date(2026, 11, 25),
        part=DayPart.SLOT,
        start_time=time(10, 0),
        end_time=time(11, 30),
        booked_by=yanis,
        status=BookingStatus.CANCELLED,
        cancelled_at=datetime(2026, 11, 20, 9, 15, tzinfo=PARIS),
        cancellation_reason="+33 travaux dans la salle",
    )
    BookingFactory(resource=desk, member=camille, day=date(2026, 10, 30))
    lille_desk = ResourceFactory(zone=ZoneFactory(space=lille), name="Lille desk")
    BookingFactory(resource=lille_desk, member=UserFactory(member__display_name="Léa"))

    october = issue(paris, camille, date(2026, 10, 28), ("Salle de réunion", "1.5", "40.00"))
    services.payment_record(
        invoice=october, amount=october.gross, method="cash", received_on=date(2026, 11, 2), by=None
    )
    monthly = issue(paris, camille, date(2026, 11, 5), ("Abonnement mensuel", "1", "250.00"))
    services.payment_record(
        invoice=monthly,
        amount=Decimal("100.00"),
        method="transfer",
        received_on=date(2026, 11, 10),
        reference="VIR-123",
        by=yanis,
    )
    days = issue(paris, mallory, date(2026, 11, 12), ("Journées", "2", "12.50"))
    services.credit_note_issue(invoice=days, today=date(2026, 11, 20))
    # A card attempt not received yet counts on the day it was made (today, in December).
    Payment.objects.create(
        invoice=monthly,
        amount=Decimal("200.00"),
        method="card",
        status=PaymentStatus.PENDING,
        gateway="stripe",
    )
    in_lille = issue(lille, camille, date(2026, 11, 6), ("Abonnement Lille", "1", "200.00"))
    services.payment_record(
        invoice=in_lille, amount=in_lille.gross, method="cheque", received_on=date(2026, 11, 7), by=None
    )


def post(client, kind, start=NOVEMBER[0], end=NOVEMBER[1], file_format="csv", space=""):
    return client.post(
        FORM_URL,
        {
            "kind": kind,
            "space": space,
            "date_from": str(start),
            "date_to": str(end),
            "file_format": file_format,
        },
    )


def body(response) -> str:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content).decode("utf-8")


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response))))


# --- the columns and rows of each kind ---------------------------------------------------------------


def test_the_bookings_export_lists_the_days_bookings_of_the_managers_space(as_yanis, data, camille, mallory):
    response = post(as_yanis, "bookings")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"] == 'attachment; filename="bookings_2026-11-01_2026-11-30.csv"'
    assert rows(response) == [
        [
            "Date",
            "Space",
            "Desk or room",
            "Kind",
            "Part of the day",
            "Start (local time)",
            "End (local time)",
            "Member",
            "E-mail address",
            "Status",
            "Booked by",
            "Cancelled at",
            "Cancellation reason",
        ],
        [
            "2026-11-24",
            "Paris Bastille",
            "Bureau 01",
            "Hot desk",
            "Full day",
            "00:00",
            "00:00",
            "Camille Martin",
            "camille@example.com",
            "Confirmed",
            "",
            "",
            "",
        ],
        [
            "2026-11-25",
            "Paris Bastille",
            "Salle Lumière",
            "Meeting room",
            "Time slot",
            "10:00",
            "11:30",
            "'" + HYPERLINK,
            "mallory@example.com",
            "Cancelled",
            "yanis@example.com",
            "2026-11-20 09:15",
            "'+33 travaux dans la salle",
        ],
    ]


def test_the_invoices_export_has_totals_payments_and_balances(as_yanis, data):
    assert rows(post(as_yanis, "invoices")) == [
        [
            "Number",
            "Kind",
            "Corrects invoice",
            "Issue date",
            "Due date",
            "Space",
            "Buyer",
            "Company",
            "VAT number",
            "Total excl. VAT",
            "VAT",
            "Total incl. VAT",
            "Currency",
            "Status",
            "Amount paid",
            "Still due",
        ],
        [
            "PAR-2026-00002",
            "Invoice",
            "",
            "2026-11-05",
            "2026-11-15",
            "Paris Bastille",
            "Camille Martin",
            "Atelier Martin",
            "FR40123456789",
            "250.00",
            "50.00",
            "300.00",
            "EUR",
            "Issued",
            "100.00",
            "200.00",
        ],
        [
            "PAR-2026-00003",
            "Invoice",
            "",
            "2026-11-12",
            "2026-11-22",
            "Paris Bastille",
            "'" + HYPERLINK,
            "",
            "",
            "25.00",
            "5.00",
            "30.00",
            "EUR",
            "Cancelled by a credit note",
            "0.00",
            "",
        ],
        [
            "PAR-AV-2026-00001",
            "Credit note",
            "PAR-2026-00003",
            "2026-11-20",
            "2026-11-20",
            "Paris Bastille",
            "'" + HYPERLINK,
            "",
            "",
            "-25.00",
            "-5.00",
            "-30.00",
            "EUR",
            "Issued",
            "0.00",
            "",
        ],
    ]


def test_the_invoice_lines_export_has_one_row_per_line(as_yanis, data):
    table = rows(post(as_yanis, "invoice_lines"))
    assert table[0] == [
        "Invoice",
        "Kind",
        "Issue date",
        "Space",
        "Buyer",
        "Position",
        "Description",
        "Quantity",
        "Unit price excl. VAT",
        "VAT rate (%)",
        "Excl. VAT",
        "VAT",
        "Incl. VAT",
        "Currency",
    ]
    assert table[1:] == [
        [
            "PAR-2026-00002",
            "Invoice",
            "2026-11-05",
            "Paris Bastille",
            "Camille Martin",
            "1",
            "Abonnement mensuel",
            "1.00",
            "250.00",
            "20.00",
            "250.00",
            "50.00",
            "300.00",
            "EUR",
        ],
        [
            "PAR-2026-00003",
            "Invoice",
            "2026-11-12",
            "Paris Bastille",
            "'" + HYPERLINK,
            "1",
            "Journées",
            "2.00",
            "12.50",
            "20.00",
            "25.00",
            "5.00",
            "30.00",
            "EUR",
        ],
        [
            "PAR-AV-2026-00001",
            "Credit note",
            "2026-11-20",
            "Paris Bastille",
            "'" + HYPERLINK,
            "1",
            "Avoir sur PAR-2026-00003: Journées",
            "2.00",
            "-12.50",
            "20.00",
            "-25.00",
            "-5.00",
            "-30.00",
            "EUR",
        ],
    ]


def test_the_payments_export_counts_payments_on_the_day_they_were_received(as_yanis, data):
    assert rows(post(as_yanis, "payments")) == [
        [
            "Date",
            "Invoice",
            "Space",
            "Buyer",
            "Amount",
            "Currency",
            "Method",
            "Status",
            "Reference",
            "Recorded by",
        ],
        # The October invoice was paid in November: its payment is November's.
        [
            "2026-11-02",
            "PAR-2026-00001",
            "Paris Bastille",
            "Camille Martin",
            "72.00",
            "EUR",
            "Cash",
            "Received",
            "",
            "",
        ],
        [
            "2026-11-10",
            "PAR-2026-00002",
            "Paris Bastille",
            "Camille Martin",
            "100.00",
            "EUR",
            "Bank transfer",
            "Received",
            "VIR-123",
            "yanis@example.com",
        ],
    ]
    # The card attempt received nothing yet: it counts on the day it was made.
    december = rows(post(as_yanis, "payments", date(2026, 12, 1), date(2026, 12, 31)))
    assert december[1:] == [
        ["2026-12-03", "PAR-2026-00002", "Paris Bastille", "Camille Martin", "200.00", "EUR", "Card",
         "Awaiting payment", "", ""],
    ]  # fmt: skip


# --- formats and languages ---------------------------------------------------------------------------


def test_the_excel_fr_file_has_a_bom_semicolons_decimal_commas_and_french_dates(as_yanis, data):
    raw = body(post(as_yanis, "invoices", file_format="excel_fr"))
    assert raw.startswith(BOM)
    assert raw.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert "\r\n" in raw
    # Excel opens it as UTF-8 because of the BOM, then splits on semicolons.
    table = list(csv.reader(io.StringIO(raw.removeprefix(BOM)), delimiter=";"))
    assert all(len(row) == 16 for row in table)
    assert table[1][:6] == ["PAR-2026-00002", "Invoice", "", "05/11/2026", "15/11/2026", "Paris Bastille"]
    assert table[1][9:12] == ["250,00", "50,00", "300,00"]
    assert table[1][14:] == ["100,00", "200,00"]
    # A credit note's negative amounts are numbers, not neutralised text.
    assert table[3][9:12] == ["-25,00", "-5,00", "-30,00"]
    assert table[2][6] == "'" + HYPERLINK


def test_the_excel_fr_bookings_show_french_date_and_times(as_yanis, data):
    raw = body(post(as_yanis, "bookings", file_format="excel_fr"))
    table = list(csv.reader(io.StringIO(raw.removeprefix(BOM)), delimiter=";"))
    assert table[2][0] == "25/11/2026"
    assert table[2][5:7] == ["10:00", "11:30"]
    assert table[2][11] == "20/11/2026 09:15"


def test_the_plain_csv_has_no_bom(as_yanis, data):
    raw = body(post(as_yanis, "payments"))
    assert not raw.startswith(BOM)
    assert raw.splitlines()[0].count(",") == 9


def test_headers_and_labels_are_in_french_with_the_french_language(french, yanis, data):
    french.force_login(yanis)
    table = rows(post(french, "invoices"))
    assert table[0] == [
        "Numéro",
        "Type",
        "Facture corrigée",
        "Date d’émission",
        "Date d’échéance",
        "Espace",
        "Acheteur",
        "Entreprise",
        "Numéro de TVA",
        "Total HT",
        "TVA",
        "Total TTC",
        "Devise",
        "Statut",
        "Montant payé",
        "Reste dû",
    ]
    assert table[1][1] == "Facture"
    assert table[1][13] == "Émise"
    assert table[3][1] == "Avoir"
    bookings = rows(post(french, "bookings"))
    assert bookings[0][:5] == ["Date", "Espace", "Bureau ou salle", "Type", "Moment de la journée"]
    assert bookings[1][3:5] == ["Poste nomade", "Journée"]
    assert bookings[2][9] == "Annulée"
    payments = rows(post(french, "payments"))
    assert payments[0][:9] == [
        "Date",
        "Facture",
        "Espace",
        "Acheteur",
        "Montant",
        "Devise",
        "Moyen",
        "Statut",
        "Référence",
    ]
    assert payments[2][6:8] == ["Virement", "Reçu"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-2", "'-2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Camille", "Camille"),
        ("", ""),
        (Decimal("-30.00"), "-30.00"),
        (-3, "-3"),
        (None, ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_neutralised_and_numbers_are_not(value, cell):
    assert exports.format_cell(value, excel_fr=False) == cell


def test_the_file_a_spreadsheet_reads_back_keeps_the_neutralised_name_as_text(as_yanis, data):
    raw = body(post(as_yanis, "bookings", file_format="excel_fr"))
    names = [row[7] for row in csv.reader(io.StringIO(raw.removeprefix(BOM)), delimiter=";")]
    assert not any(name.startswith(exports.FORMULA_STARTS) for name in names)


# --- scope: only the manager's spaces -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bookings", "invoices", "invoice_lines", "payments"])
def test_all_my_spaces_never_includes_another_space(as_yanis, data, kind):
    content = body(post(as_yanis, kind))
    assert "Paris Bastille" in content
    assert "Lille" not in content
    assert "LIL-" not in content


@pytest.mark.parametrize("kind", ["bookings", "invoices", "payments"])
def test_posting_another_spaces_id_is_a_form_error(as_yanis, data, lille, kind):
    response = post(as_yanis, kind, space=lille.pk)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Select a valid choice" in response.content.decode()
    assert "Lille" not in response.content.decode()
    assert not AuditEntry.objects.filter(action__startswith="export.").exists()


def test_choosing_one_of_my_spaces_exports_that_space_only(english, data, paris, lille):
    both = ManagerFactory(email="ines@example.com", spaces=[paris, lille])
    english.force_login(both)
    content = body(post(english, "invoices", space=lille.pk))
    assert "LIL-2026-00001" in content
    assert "PAR-" not in content
    content = body(post(english, "invoices"))
    assert "LIL-2026-00001" in content
    assert "PAR-2026-00002" in content


def test_the_form_offers_the_managers_spaces_only(as_yanis, data, paris, lille):
    page = as_yanis.get(FORM_URL).content.decode()
    assert f'<option value="{paris.pk}">Paris Bastille</option>' in page
    assert "Lille" not in page
    assert "All my spaces" in page


def test_a_superuser_exports_every_space(english, data):
    english.force_login(UserFactory(is_staff=True, is_superuser=True))
    content = body(post(english, "payments"))
    assert "Paris Bastille" in content
    assert "Lille Centre" in content


def test_staff_who_run_no_space_may_not_export(english, data):
    english.force_login(ManagerFactory(email="nobody@example.com"))
    assert english.get(FORM_URL).status_code == 403
    assert post(english, "bookings").status_code == 403


def test_a_member_is_sent_to_the_admin_login(english, camille):
    english.force_login(camille)
    response = english.get(FORM_URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- the form ----------------------------------------------------------------------------------------


def test_the_form_proposes_last_month_in_excel_fr_for_french_users(french, yanis, data):
    french.force_login(yanis)
    page = french.get(FORM_URL).content.decode()
    assert 'name="date_from" value="2026-11-01"' in page
    assert 'name="date_to" value="2026-11-30"' in page
    assert re.search(r'value="excel_fr"[^>]*checked', page)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_from": "2026-11-30", "date_to": "2026-11-01"}, "date_to"),
        ({"date_from": "2026-01-01", "date_to": "2027-01-02"}, "date_to"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": ""}, "date_to"),
        ({"kind": "members"}, "kind"),
        ({"file_format": "xlsx"}, "file_format"),
        ({"space": "paris"}, "space"),
        ({"space": "99999"}, "space"),
    ],
)
def test_bad_input_is_a_form_error_never_a_crash(as_yanis, data, changes, field):
    form = {
        "kind": "bookings",
        "space": "",
        "date_from": "2026-11-01",
        "date_to": "2026-11-30",
        "file_format": "csv",
        **changes,
    }
    response = as_yanis.post(FORM_URL, form)
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_a_full_leap_year_is_the_longest_range(as_yanis, data):
    assert post(as_yanis, "bookings", date(2028, 1, 1), date(2028, 12, 31)).status_code == 200
    response = post(as_yanis, "bookings", date(2026, 1, 1), date(2027, 1, 2))
    assert "An export covers at most 366 days" in response.content.decode()


# --- streaming ---------------------------------------------------------------------------------------


def _bookings(count, paris):
    desk = ResourceFactory(zone=ZoneFactory(space=paris))
    member = UserFactory(member__display_name="Habitué")
    BookingFactory.create_past_batch(count, resource=desk, member=member, last_day=date(2026, 11, 20))


def _export_all(client):
    response = post(client, "bookings", date(2026, 1, 1), date(2026, 11, 30))
    return list(csv.reader(io.StringIO(body(response))))


def test_a_small_export_streams_with_the_same_queries_for_10_or_200_rows(
    as_yanis, paris, django_assert_max_num_queries
):
    _bookings(10, paris)
    with CaptureQueriesContext(connection) as ten:
        assert len(_export_all(as_yanis)) == 11
    AuditEntry.objects.all().delete()
    _bookings(190, paris)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_export_all(as_yanis)) == 201


def test_rows_are_read_in_chunks_from_one_query(paris, django_assert_num_queries):
    _bookings(25, paris)
    spec = exports.ExportSpec(
        kind=exports.ExportKind.BOOKINGS,
        space_ids=(paris.pk,),
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        file_format=exports.ExportFormat.CSV,
    )
    with django_assert_num_queries(1):
        pieces = list(exports.csv_chunks(spec=spec, batch=10))
    # The header line, then 10 + 10 + 5 rows.
    assert [piece.count(b"\r\n") for piece in pieces] == [1, 10, 10, 5]


def test_a_streamed_export_is_in_the_audit_log(as_yanis, data, yanis, paris):
    body(post(as_yanis, "invoices", file_format="excel_fr"))
    entry = AuditEntry.objects.get(action="export.invoices")
    assert entry.actor == yanis
    assert entry.space_id == paris.pk
    assert "2026-11-01..2026-11-30" in entry.note
    assert "rows=3" in entry.note
    assert "format=excel_fr" in entry.note


# --- large exports in the background -------------------------------------------------------------


@pytest.fixture
def small_threshold():
    with override_settings(EXPORT_STREAM_MAX_ROWS=1):
        yield


def test_a_large_export_runs_in_the_background_and_offers_its_file(as_yanis, data, yanis, small_threshold):
    response = post(as_yanis, "bookings")
    assert response.status_code == 302
    status_url = response["Location"]
    job_id = re.fullmatch(r"/admin/exports/([0-9a-f-]{36})/", status_url).group(1)

    # Celery runs eagerly in the tests: the job is done by the time the page shows.
    progress = as_yanis.get(status_url, HTTP_ACCEPT="application/json")
    assert progress["Content-Type"] == "application/json"
    download_url = f"/admin/exports/{job_id}/download/"
    assert progress.json() == {
        "status": "done",
        "status_label": "Ready",
        "done": 2,
        "total": 2,
        "download_url": download_url,
    }
    assert "Accept" in progress["Vary"]

    page = as_yanis.get(status_url)
    html = page.content.decode()
    assert '<progress id="export-progress" max="2" value="2">' in html
    assert f'href="{download_url}"' in html
    # The site's CSP forbids inline script: the poller is a static file.
    scripts = re.findall(r"<script[^>]*>", html)
    assert any("js/export-progress.js" in tag for tag in scripts)
    assert all("src=" in tag for tag in scripts)
    assert finders.find("js/export-progress.js")
    assert default_storage.exists(f"exports/{job_id}.csv")

    download = as_yanis.get(download_url)
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="bookings_2026-11-01_2026-11-30.csv"'
    content = b"".join(download.streaming_content).decode()
    table = list(csv.reader(io.StringIO(content)))
    assert [row[1] for row in table[1:]] == ["Paris Bastille", "Paris Bastille"]
    assert table[2][7] == "'" + HYPERLINK

    entry = AuditEntry.objects.get(action="export.bookings")
    assert entry.actor == yanis
    assert entry.target_id == job_id
    assert "rows=2" in entry.note


def test_a_job_in_progress_reports_its_progress(as_yanis, yanis, paris):
    spec = exports.ExportSpec(
        kind=exports.ExportKind.PAYMENTS,
        space_ids=(paris.pk,),
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        file_format=exports.ExportFormat.CSV,
    )
    job_id = exports.job_create(owner_id=yanis.pk, spec=spec, total=12000, language="en")
    exports.job_update(job_id=job_id, status="running", done=4000)
    url = f"/admin/exports/{job_id}/"
    assert as_yanis.get(url, HTTP_ACCEPT="application/json").json() == {
        "status": "running",
        "status_label": "In progress",
        "done": 4000,
        "total": 12000,
        "download_url": None,
    }
    html = as_yanis.get(url).content.decode()
    assert '<progress id="export-progress" max="12000" value="4000">' in html
    assert 'id="export-download" hidden' in html
    assert 'data-rows-text="{done} of {total} rows"' in html
    assert "4000 of 12000 rows" in html
    # Not ready: the download URL sends back to the progress page.
    download = as_yanis.get(f"{url}download/")
    assert download.status_code == 302
    assert download["Location"] == url


def test_the_task_reports_progress_every_chunk(yanis, paris, monkeypatch):
    _bookings(5, paris)
    spec = exports.ExportSpec(
        kind=exports.ExportKind.BOOKINGS,
        space_ids=(paris.pk,),
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        file_format=exports.ExportFormat.EXCEL_FR,
    )
    job_id = exports.job_create(owner_id=yanis.pk, spec=spec, total=5, language="fr")
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
    seen = []
    real_update = exports.job_update

    def spy(*, job_id, **changes):
        seen.append(changes)
        return real_update(job_id=job_id, **changes)

    monkeypatch.setattr(exports, "job_update", spy)
    assert tasks.export_csv.delay(job_id).get() == "done"
    assert [changes["done"] for changes in seen if set(changes) == {"done"}] == [2, 4, 5]
    job = exports.job_get(job_id=job_id)
    assert (job["status"], job["done"], job["total"]) == ("done", 5, 5)
    with default_storage.open(job["file"], "rb") as handle:
        content = handle.read().decode("utf-8")
    # The job's language, not the worker's: French headers.
    assert content.startswith(BOM + "Date;Espace;Bureau ou salle")
    # A second run of a finished job (a redelivered task) changes nothing.
    assert exports.job_run(job_id=job_id) == "done"


def test_a_job_that_fails_says_so(as_yanis, yanis, paris, monkeypatch):
    spec = exports.ExportSpec(
        kind=exports.ExportKind.INVOICES,
        space_ids=(paris.pk,),
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        file_format=exports.ExportFormat.CSV,
    )
    job_id = exports.job_create(owner_id=yanis.pk, spec=spec, total=9000, language="en")

    def disk_full(**kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(exports, "export_write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        exports.job_run(job_id=job_id)
    url = f"/admin/exports/{job_id}/"
    assert as_yanis.get(url, HTTP_ACCEPT="application/json").json()["status"] == "failed"
    html = as_yanis.get(url).content.decode()
    assert '<div id="export-failed">' in html
    assert "This export failed" in html
    assert 'id="export-download" hidden' in html


def test_another_manager_never_sees_someone_elses_job(english, data, yanis, paris, small_threshold):
    english.force_login(yanis)
    job_url = post(english, "invoices")["Location"]
    colleague = ManagerFactory(email="colleague@example.com", spaces=[paris])
    english.force_login(colleague)
    assert english.get(job_url).status_code == 404
    assert english.get(job_url, HTTP_ACCEPT="application/json").status_code == 404
    assert english.get(f"{job_url}download/").status_code == 404


def test_an_unknown_job_is_not_found(as_yanis):
    assert as_yanis.get("/admin/exports/0b9c2f4e-0000-4000-8000-000000000000/").status_code == 404


def test_a_broker_outage_is_a_clear_message_not_a_stuck_progress_bar(
    as_yanis, data, small_threshold, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.export_csv, "delay", unreachable)
    response = post(as_yanis, "payments")
    assert response.status_code == 200
    assert "the background worker cannot be reached" in response.content.decode()


def test_old_export_files_are_purged(time_machine):
    # Other tests' files share the in-memory storage: start from an empty folder.
    exports.export_files_purge(now=NOW + timedelta(days=365))
    default_storage.save("exports/old.csv", ContentFile(b"a,b\r\n"))
    time_machine.move_to(NOW + timedelta(days=6), tick=False)
    default_storage.save("exports/recent.csv", ContentFile(b"a,b\r\n"))
    time_machine.move_to(NOW + timedelta(days=8), tick=False)
    assert tasks.purge_exports.delay().get() == 1
    assert not default_storage.exists("exports/old.csv")
    assert default_storage.exists("exports/recent.csv")
    default_storage.delete("exports/recent.csv")


def test_every_header_is_a_translatable_string():
    with translation.override("en"):
        for kind in exports.ExportKind:
            headers = exports.export_headers(kind=kind)
            assert all(header and header[0].isupper() for header in headers)
            assert len(headers) == len(set(headers))


# --- the progress page in a real browser -------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
