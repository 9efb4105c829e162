"""Yanis runs Canal Saint-Martin, in a real Chromium and in English: he signs in through the admin's
login (allauth's page), reads today's figures on the dashboard of the admin index and the printable
check-in list, exports today's bookings for Excel in French, and cancels a booking with a reason. Lille
Centre, the other space of the network, has bookings and a member past due that he must never see.

Nothing is frozen: the live server runs on the real clock, so the seed is laid out from today in Paris,
both spaces open every day from 08:30 to 19:00 (SpaceFactory's hours), and every figure the pages must
show is computed below from the seed, by hand, not by the code under test."""

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from billing import dunning
from billing import services as billing_services
from billing.models import Invoice, Pass, PassStatus
from bookings.models import Booking, BookingStatus, DayPart
from members.models import AuditEntry
from spaces.models import ResourceKind
from tests.factories import (
    PASSWORD,
    BookingFactory,
    ManagerFactory,
    PlanFactory,
    ResourceFactory,
    SpaceFactory,
    UserFactory,
    ZoneFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PARIS = ZoneInfo("Europe/Paris")
OPEN_MINUTES = 630  # 08:30 to 19:00
REASON = "Dégât des eaux : l'open space reste fermé aujourd'hui."
CANCEL_ACTION = "Cancel the selected bookings (with a reason sent to the member)"
# What Yanis must never read: the other space, the members who booked there or owe it money.
ELSEWHERE = ("Lille Centre", "Nina Lambert", "nina.lambert@example.com", "Olga Vidal")
# The English labels the export and the dashboard write.
KINDS = {ResourceKind.HOT_DESK: "Hot desk", ResourceKind.MEETING_ROOM: "Meeting room"}
PARTS = {
    DayPart.FULL_DAY: "Full day",
    DayPart.MORNING: "Morning",
    DayPart.AFTERNOON: "Afternoon",
    DayPart.SLOT: "Time slot",
}
STATUSES = {BookingStatus.CONFIRMED: "Confirmed", BookingStatus.CANCELLED: "Cancelled"}


def paris_today() -> date:
    return datetime.now(PARIS).date()


def english_date(day: date, format_name: str = "DATE_FORMAT") -> str:
    with translation.override("en"):
        return formats.date_format(day, format_name)


def one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def person(name: str, **member):
    email = name.lower().replace(" ", ".").replace("é", "e") + "@example.com"
    return UserFactory(
        email=email, member__display_name=name, **{f"member__{k}": v for k, v in member.items()}
    )


@dataclass
class World:
    today: date
    canal: object
    manager: object
    desks: list
    room: object
    bookings: list  # Canal's bookings, every day and status
    eve_booking: Booking
    paul_pass: Pass

    @property
    def today_bookings(self) -> list[Booking]:
        return [b for b in self.bookings if b.local_date == self.today]

    @property
    def expected(self) -> list[Booking]:
        """Today's confirmed bookings at Canal, in the dashboard's order: start, resource, id."""
        confirmed = [b for b in self.today_bookings if b.status == BookingStatus.CONFIRMED]
        return sorted(confirmed, key=lambda b: (b.start, b.resource.name, b.pk))

    def today_cells(self) -> list[str]:
        """The cells of Canal's row in "Today": desks booked, desks, desk occupancy, room hours booked,
        room hours open, room occupancy, expected. A half day counts half a desk."""
        desk_half_days = sum(
            2 if b.part == DayPart.FULL_DAY else 1 for b in self.expected if b.resource.kind == "hot_desk"
        )
        room_minutes = sum(
            int((b.end - b.start).total_seconds()) // 60 for b in self.expected if b.resource == self.room
        )
        desk_rate = one_decimal(Decimal(desk_half_days * 100) / (2 * len(self.desks)))
        room_rate = one_decimal(Decimal(room_minutes * 100) / OPEN_MINUTES)
        return [
            f"{desk_half_days / 2:g}",
            str(len(self.desks)),
            f"{desk_rate}%",
            str(one_decimal(Decimal(room_minutes) / 60)),
            str(one_decimal(Decimal(OPEN_MINUTES) / 60)),
            f"{room_rate}%",
            str(len(self.expected)),
        ]


@pytest.fixture
def world() -> World:
    today = paris_today()
    now = timezone.now()
    canal = SpaceFactory(name="Canal Saint-Martin", slug="canal", invoice_prefix="CAN", weekdays=range(7))
    lille = SpaceFactory(name="Lille Centre", slug="lille", invoice_prefix="LIL", weekdays=range(7))
    zone = ZoneFactory(space=canal, name="Open space")
    desks = [ResourceFactory(zone=zone, name=f"Bureau {n:02d}") for n in range(1, 6)]
    room = ResourceFactory(zone=zone, name="Salle Jaurès", kind=ResourceKind.MEETING_ROOM)
    manager = ManagerFactory(email="yanis@example.com", member__display_name="Yanis Benali", spaces=[canal])

    camille, bruno, dina = person("Camille Martin"), person("Bruno Petit"), person("Dina Haddad")
    eve = person("Eve Laurent", preferred_language="en")  # her e-mails in English
    hugo, felix = person("Hugo Lefebvre"), person("Félix Morel")
    gaston, paul = person("Gaston Roux"), person("Paul Durand")
    # Today at Canal: 2 + 1 + 1 + 2 + 1 = 7 half days of 5 desks; 2 room hours of 10.5; Gaston's booking
    # was cancelled an hour ago and counts for nothing. Camille comes back tomorrow.
    bookings = [
        BookingFactory(resource=desks[0], member=camille, day=today),
        BookingFactory(resource=desks[1], member=bruno, day=today, part=DayPart.MORNING),
        BookingFactory(resource=desks[1], member=dina, day=today, part=DayPart.AFTERNOON),
        BookingFactory(resource=desks[2], member=eve, day=today),
        BookingFactory(resource=desks[3], member=hugo, day=today, part=DayPart.MORNING),
        BookingFactory(
            resource=room, member=felix, day=today, part=DayPart.SLOT, start_time=time(10), end_time=time(12)
        ),
        BookingFactory(
            resource=desks[4],
            member=gaston,
            day=today,
            status=BookingStatus.CANCELLED,
            cancelled_at=now - timedelta(hours=1),
            cancellation_reason="Empêchement",
        ),
        BookingFactory(resource=desks[0], member=camille, day=today + timedelta(days=1)),
    ]

    # Passes: Eve's monthly pass bought today (active, its invoice not due yet); Paul's bought five days
    # ago and never paid: the dunning job makes it past due. Olga owes Lille the same.
    canal_monthly = PlanFactory(space=canal, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))
    lille_monthly = PlanFactory(space=lille, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))
    billing_services.pass_purchase(member=eve, plan=canal_monthly, start=today, now=now)
    five_days_ago = datetime.combine(today - timedelta(days=5), time(12), tzinfo=PARIS)
    paul_pass = billing_services.pass_purchase(
        member=paul, plan=canal_monthly, start=today - timedelta(days=5), now=five_days_ago
    )
    olga_pass = billing_services.pass_purchase(
        member=person("Olga Vidal"), plan=lille_monthly, start=today - timedelta(days=5), now=five_days_ago
    )
    # Lille today: Nina at a desk.
    lille_desk = ResourceFactory(zone=ZoneFactory(space=lille, name="Plateau"), name="L1")
    BookingFactory(resource=lille_desk, member=person("Nina Lambert"), day=today)

    dunning.run(timezone.now())
    for pass_obj in (paul_pass, olga_pass):
        pass_obj.refresh_from_db()
        assert pass_obj.status == PassStatus.PAST_DUE
    return World(today, canal, manager, desks, room, bookings, bookings[3], paul_pass)


def sign_in_to_the_admin(page, email: str) -> None:
    """Switch to English as a visitor, then open /admin/: the admin's login sends to allauth's page."""
    page.goto("/")
    page.get_by_role("button", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Fadmin%2F$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


def expect_expected_today(page, world: World) -> None:
    """The "Who is expected today" section lists exactly today's confirmed bookings at Canal."""
    section = page.locator("section[aria-labelledby=dashboard-expected]")
    expect(section.locator("h4")).to_have_text(re.compile(r"^Canal Saint-Martin · Printable check-in list$"))
    rows = section.locator(".expected-table tbody tr")
    expect(rows.locator("th")).to_have_text([b.member.member.display_name for b in world.expected])
    expect(rows.locator("td:first-child")).to_have_text(
        [
            "10:00–12:00" if b.part == DayPart.SLOT else PARTS[b.part]  # the room: its hours
            for b in world.expected
        ]
    )
    expect(rows.locator("td:last-child")).to_have_text([b.resource.name for b in world.expected])
    expect(page.locator(f'#today-table tbody tr[data-space="{world.canal.pk}"] td')).to_have_text(
        world.today_cells()
    )


def test_the_dashboard_shows_todays_figures_of_his_space_only(page, live_server, world):
    sign_in_to_the_admin(page, "yanis@example.com")
    expect(page.locator("#dashboard-today")).to_have_text(f"Today, {english_date(world.today)}")
    today_rows = page.locator("#today-table tbody tr")
    expect(today_rows).to_have_count(1)
    expect(today_rows.locator("th")).to_have_text("Canal Saint-Martin")
    assert world.today_cells() == ["3.5", "5", "70.0%", "2.0", "10.5", "19.0%", "6"]  # the seed, by hand
    expect_expected_today(page, world)

    # Paul is past due since the day after his invoice's due date (issued five days ago, due at once).
    arrears = page.locator("#arrears-table tbody tr")
    expect(arrears).to_have_count(1)
    expect(arrears.locator("th")).to_have_text("Paul Durand paul.durand@example.com")
    since = english_date(world.paul_pass.past_due_since, "SHORT_DATE_FORMAT")
    assert world.paul_pass.past_due_since == world.today - timedelta(days=4)
    expect(arrears.locator("td")).to_have_text(["Past due", since, "1", "€300.00"])
    expect(page.locator("#arrears-table tfoot").locator("th, td")).to_have_text(["Total due", "€300.00"])
    expect(page.locator("#dashboard-passes")).to_have_text("2 active passes")  # Eve's and Paul's

    month = world.today.replace(day=1)
    invoiced = sum(
        invoice.gross for invoice in Invoice.objects.filter(space=world.canal, issue_date__gte=month)
    )
    assert invoiced in (Decimal("300.00"), Decimal("600.00"))  # Paul's may be last month's
    expect(page.locator(".revenue-now")).to_have_text(
        f"This month: €{invoiced} invoiced and €0.00 received, VAT included."
    )
    for text in ELSEWHERE:
        expect(page.locator("body")).not_to_contain_text(text)
    expect(page.locator("#id_space option")).to_have_text(["All my spaces", "Canal Saint-Martin"])

    # The printable check-in list: by name, each with a box to tick.
    page.get_by_role("link", name="Printable check-in list").click()
    expect(page).to_have_url(re.compile(rf"/admin/dashboard/{world.canal.pk}/check-in/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Canal Saint-Martin: who is expected on {english_date(world.today)}"
    )
    table = page.locator("#check-in-table")
    names = sorted((b.member.member.display_name for b in world.expected), key=str.casefold)
    assert names == [
        "Bruno Petit",
        "Camille Martin",
        "Dina Haddad",
        "Eve Laurent",
        "Félix Morel",
        "Hugo Lefebvre",
    ]
    expect(table.locator("caption")).to_have_text(f"{len(names)} bookings")
    expect(table.locator("tbody th")).to_have_text(names)
    arrived = page.get_by_label("Félix Morel has arrived")
    arrived.check()
    expect(arrived).to_be_checked()
    for text in (*ELSEWHERE, "Gaston Roux"):
        expect(page.locator("body")).not_to_contain_text(text)


def test_he_exports_todays_bookings_for_excel_in_french(page, live_server, world):
    sign_in_to_the_admin(page, "yanis@example.com")
    page.locator("#exports-module").get_by_role("link", name="Export as CSV").click()
    expect(page.get_by_role("heading", name="Export as CSV")).to_be_visible()
    page.get_by_label("What to export").select_option(label="Bookings")
    space = page.get_by_label("Space")
    expect(space.locator("option")).to_have_text(["All my spaces", "Canal Saint-Martin"])
    expect(space).to_have_value("")  # all his spaces: Canal alone
    page.get_by_label("From").fill(world.today.isoformat())
    page.get_by_label("To (included)").fill(world.today.isoformat())
    page.get_by_label("Excel FR (semicolon, UTF-8 with BOM, decimal comma)").check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export", exact=True).click()
    download = download_info.value
    assert download.failure() is None
    day = world.today.isoformat()
    assert download.suggested_filename == f"bookings_{day}_{day}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))

    assert rows[0] == [
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
    ]
    # Every booking of Canal on that day, cancelled ones included, by start then id; not tomorrow's, not
    # Lille's.
    wanted = sorted(world.today_bookings, key=lambda b: (b.start, b.pk))
    assert [row[8] for row in rows[1:]] == [b.member.email for b in wanted]
    assert rows[1:] == [
        [
            world.today.strftime("%d/%m/%Y"),
            "Canal Saint-Martin",
            b.resource.name,
            KINDS[b.resource.kind],
            PARTS[b.part],
            b.start.astimezone(PARIS).strftime("%H:%M"),
            b.end.astimezone(PARIS).strftime("%H:%M"),
            b.member.member.display_name,
            b.member.email,
            STATUSES[b.status],
            "",
            b.cancelled_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if b.cancelled_at else "",
            b.cancellation_reason,
        ]
        for b in wanted
    ]
    assert len(rows) == 1 + 7
    assert {row[4] for row in rows[1:]} == {"Full day", "Morning", "Afternoon", "Time slot"}
    assert not [row for row in rows if any(text in cell for text in ELSEWHERE for cell in row)]

    entry = AuditEntry.objects.get(action="export.bookings")
    assert (entry.actor, entry.space_id) == (world.manager, world.canal.pk)
    assert entry.note == f"{day}..{day}; rows=7; format=excel_fr; spaces={world.canal.pk}"


def test_he_cancels_a_booking_with_a_reason(page, live_server, world):
    booking = world.eve_booking
    sign_in_to_the_admin(page, "yanis@example.com")
    page.locator("#content-main tr.model-booking th a").click()
    expect(page).to_have_url(re.compile(r"/admin/bookings/booking/$"))
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(len(world.bookings))  # Canal's, every day and status; none of Lille
    expect(page.locator("#result_list")).not_to_contain_text("nina.lambert@example.com")

    row = results.filter(has_text="eve.laurent@example.com")
    row.locator("input.action-select").check()
    page.locator("#changelist-form select[name=action]").select_option(label=CANCEL_ACTION)
    page.get_by_role("button", name="Go", exact=True).click()

    expect(page.get_by_role("heading", name="Cancel bookings")).to_be_visible()
    expect(page.locator("#content ul li")).to_have_text(
        [f"Bureau 03 (Hot desk) {world.today.isoformat()} Full day — eve.laurent@example.com"]
    )
    page.get_by_label("Reason (sent to the member)").fill(REASON)
    page.get_by_role("button", name="Cancel these bookings").click()

    expect(page.locator(".messagelist .success")).to_have_text(
        "1 booking cancelled; the member is told by e-mail."
    )
    expect(row.locator("td.field-status")).to_have_text("Cancelled")
    booking.refresh_from_db()
    assert (booking.status, booking.cancellation_reason, booking.cancelled_by) == (
        BookingStatus.CANCELLED,
        REASON,
        world.manager,
    )
    assert not booking.cancellation_notice_pending  # the e-mail went out
    entry = AuditEntry.objects.get(action="booking.cancel")
    assert (entry.actor, entry.space_id, entry.target_id, entry.note) == (
        world.manager,
        world.canal.pk,
        str(booking.pk),
        REASON,
    )
    assert Booking.objects.filter(status=BookingStatus.CANCELLED).count() == 2  # Eve's and Gaston's
    (notice,) = [m for m in mail.outbox if m.to == ["eve.laurent@example.com"] and "cancelled" in m.subject]
    assert notice.subject == "[Coworking] Booking cancelled: Bureau 03, Canal Saint-Martin"
    assert REASON in notice.body

    # Back on the dashboard: Eve is no longer expected, and her desk is free again.
    page.get_by_role("link", name="Home", exact=True).click()
    assert world.today_cells() == ["2.5", "5", "50.0%", "2.0", "10.5", "19.0%", "5"]
    expect_expected_today(page, world)
    section = page.locator("section[aria-labelledby=dashboard-expected]")
    expect(section).not_to_contain_text("Eve Laurent")
