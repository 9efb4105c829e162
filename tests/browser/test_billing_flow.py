"""Camille pays for her desk in a real Chromium: she buys a monthly pass from a space's plans, reads its
invoice and downloads the PDF, then books with the pass; without a pass, the grid offers her a day pass
and books the desk once it is bought; she stops her pass's renewal and resumes it. The pages run in
English (the language switcher, as a visitor would), and the plans page once in French.

Nothing is frozen: the live server runs on the real clock, so the days are counted from today in Paris
and the space opens every day of the week."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from billing import services as billing_services
from billing.models import Invoice, Pass, PassStatus, PriceTier
from bookings.models import Booking
from tests.factories import PASSWORD, PlanFactory, ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PARIS = ZoneInfo("Europe/Paris")
CONSENT = re.compile(r"^I ask for the pass to start on the chosen day")


def paris_today() -> date:
    return datetime.now(PARIS).date()


def english_date(day: date) -> str:
    with translation.override("en"):
        return formats.date_format(day, "DATE_FORMAT")


@pytest.fixture
def space():
    space = SpaceFactory(
        name="Canal",
        slug="canal",
        legal_name="Canal Coworking SAS",
        invoice_prefix="CAN",
        vat_on_debits=True,
        desks_need_pass=True,
        weekdays=range(7),
    )
    zone = ZoneFactory(space=space, name="Open space")
    ResourceFactory(zone=zone, name="Bureau 01")
    ResourceFactory(zone=zone, name="Bureau 02")
    return space


@pytest.fixture
def plans(space):
    day = PlanFactory(
        space=space, name="Pass journée", kind="day_pass", unit_price=Decimal("25.00"), position=0
    )
    pack = PlanFactory(
        space=space, name="Carnet 10", kind="pack_10", desk_days=10, unit_price=Decimal("200.00"), position=1
    )
    monthly = PlanFactory(
        space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"), position=2
    )
    PriceTier.objects.create(plan=monthly, first_period=4, unit_price=Decimal("230.00"))
    return {"day": day, "pack": pack, "monthly": monthly}


@pytest.fixture
def camille():
    # A complete profile (a display name to book, a billing address for the invoice); invoices in English.
    return UserFactory(
        email="camille@example.com",
        member__display_name="Camille Martin",
        member__billing_address="12 rue de la Clef\n59800 Lille",
        member__preferred_language="en",
    )


def sign_in_in_english(page, email: str) -> None:
    page.goto("/")
    page.get_by_role("button", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("link", name="My bookings")).to_be_visible()


def open_my_passes(page) -> None:
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="My passes").click()
    expect(page.get_by_role("heading", name="My passes", exact=True)).to_be_visible()


def test_buy_a_monthly_pass_see_the_invoice_and_book_a_desk_with_it(page, live_server, space, plans, camille):
    today = paris_today()
    day = today + timedelta(days=2)
    visited: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and visited.append(frame.url))
    sign_in_in_english(page, "camille@example.com")

    page.goto("/spaces/canal/")
    page.get_by_role("link", name="Plans and prices").click()
    expect(page.get_by_role("heading", name="Plans and prices")).to_be_visible()
    monthly = page.locator("li.plan[data-kind=monthly]")
    expect(monthly.get_by_role("heading", name="Mensuel")).to_be_visible()
    expect(monthly).to_contain_text("€300.00")  # 250.00 + 20% VAT
    expect(monthly).to_contain_text("€15.00 per day")  # over 20 working days
    ladder = monthly.get_by_role("table", name="Degressive prices")
    expect(ladder.get_by_role("row", name=re.compile(r"1–3 €300\.00"))).to_be_visible()
    expect(ladder.get_by_role("row", name=re.compile(r"4 and after €276\.00"))).to_be_visible()
    expect(page.locator("li.plan[data-kind=day_pass]")).to_contain_text("€30.00")

    monthly.get_by_role("link", name="Buy").click()
    expect(page.get_by_role("heading", name="Buy Mensuel")).to_be_visible()
    expect(page.get_by_label("Start date")).to_have_value(today.isoformat())
    page.get_by_label(CONSENT).check()
    page.get_by_role("button", name="Buy for €300.00").click()

    expect(page).to_have_url(re.compile(r"/accounts/passes/$"))
    invoice = Invoice.objects.get(member=camille)
    number = invoice.number
    assert number == f"CAN-{today.year}-00001"
    expect(page.get_by_text(f"Your Mensuel is ready. Invoice {number} is in your account.")).to_be_visible()
    card = page.locator("li.pass", has_text="Mensuel")
    expect(card).to_contain_text("Active")

    card.get_by_role("link", name=f"Invoice {number}").click()
    expect(page).to_have_url(re.compile(rf"/accounts/invoices/{number}/$"))
    document = page.locator("article.invoice-document")
    expect(document.get_by_role("heading", name=f"Invoice no. {number}")).to_be_visible()
    expect(document.locator(".party-name").first).to_have_text("Canal Coworking SAS")
    expect(document).to_contain_text("Camille Martin")
    totals = document.locator(".invoice-totals")
    expect(totals.get_by_role("row", name="Total incl. VAT")).to_have_text(
        re.compile(r"Total incl\. VAT\s*€300\.00")
    )
    expect(totals.get_by_role("row", name="Amount due")).to_have_text(re.compile(r"Amount due\s*€300\.00"))
    expect(document.locator(".invoice-vat tbody tr")).to_have_text(re.compile(r"20%\s*€250\.00\s*€50\.00"))
    mentions = document.locator(".invoice-mentions")
    expect(mentions.get_by_role("heading", name="Terms and legal notices")).to_be_visible()
    expect(mentions.get_by_role("listitem")).to_have_text(["Option for payment of VAT on debits."])

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"{number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.goto("/spaces/canal/")
    page.get_by_role("link", name="See what is free and book").click()
    page.locator("#day-picker").fill(day.isoformat())
    page.locator("#day-picker").dispatch_event("change")
    expect(page).to_have_url(re.compile(rf"date={day.isoformat()}"))
    page.get_by_role("button", name="Book Bureau 01 for the day").click()
    expect(page.get_by_text(f"Booked: Bureau 01, {english_date(day)} (full day).")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Bureau 01")).locator("td.cell.yours")).to_have_count(2)
    expect(page).to_have_url(re.compile(rf"/spaces/canal/availability/\?date={day.isoformat()}$"))
    assert not [url for url in visited if "/book/day-pass/" in url]
    booking = Booking.objects.get(member=camille)
    assert (booking.resource.name, booking.local_date) == ("Bureau 01", day)
    assert Pass.objects.filter(member=camille).count() == 1  # no day pass was bought on the way


def test_without_a_pass_the_grid_offers_a_day_pass_then_books_the_desk(
    page, live_server, space, plans, camille
):
    day = paris_today() + timedelta(days=3)
    sign_in_in_english(page, "camille@example.com")
    page.goto(f"/spaces/canal/availability/?date={day.isoformat()}")
    page.get_by_role("button", name="Book Bureau 02 for the day").click()

    expect(page).to_have_url(re.compile(r"/spaces/canal/book/day-pass/\?"))
    expect(page.get_by_role("heading", name="A day pass to book this desk")).to_be_visible()
    expect(page.get_by_text(f"You have no pass or day credit for {english_date(day)}.")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile(r"Pass journée · €30\.00 incl\. VAT"))).to_be_checked()

    # Without the express request to start at once: the field error, nothing bought.
    page.get_by_role("button", name="Buy the day pass and book").click()
    consent = page.get_by_label(CONSENT)
    expect(page.locator(".field.has-error", has=consent).get_by_role("alert")).to_have_text(
        "This field is required."
    )
    assert not Pass.objects.filter(member=camille).exists()

    consent.check()
    page.get_by_role("button", name="Buy the day pass and book").click()
    expect(page).to_have_url(re.compile(rf"/spaces/canal/availability/\?date={day.isoformat()}$"))
    expect(page.get_by_text(f"Booked: Bureau 02, {english_date(day)} (full day).")).to_be_visible()
    expect(page.get_by_text("Your day pass invoice is in your account.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Bureau 02")).locator("td.cell.yours")).to_have_count(2)
    booking = Booking.objects.get(member=camille)
    assert (booking.resource.name, booking.local_date) == ("Bureau 02", day)

    open_my_passes(page)
    card = page.locator("li.pass", has_text="Pass journée")
    expect(card).to_contain_text("Day pass")
    expect(card).to_contain_text("Active")
    invoice = Invoice.objects.get(member=camille)
    expect(card.get_by_role("link", name=f"Invoice {invoice.number}")).to_be_visible()
    # A day pass never renews: no renewal button.
    expect(card.get_by_role("button")).to_have_count(0)
    pass_obj = Pass.objects.get(member=camille)
    assert pass_obj.periods.get().start_date == day


def test_stop_the_renewal_then_resume_it(page, live_server, space, plans, camille):
    today = paris_today()
    pass_obj = billing_services.pass_purchase(
        member=camille, plan=plans["monthly"], start=today, now=timezone.now()
    )
    renews_on = english_date(pass_obj.periods.get().end_date + timedelta(days=1))
    renews = f"Renews on {renews_on} for €300.00."
    sign_in_in_english(page, "camille@example.com")
    open_my_passes(page)
    card = page.locator("li.pass", has_text="Mensuel")
    expect(card.get_by_text(renews)).to_be_visible()

    card.get_by_role("button", name="Stop the renewal (cancel at period end)").click()
    expect(
        page.get_by_text("Your pass will not renew: you keep it until the end of the period already paid.")
    ).to_be_visible()
    expect(card.get_by_text("Does not renew: it ends with the period already paid.")).to_be_visible()
    expect(card.get_by_text(renews)).to_have_count(0)
    expect(card).to_contain_text("Active")  # still usable until the end of the period
    pass_obj.refresh_from_db()
    assert (pass_obj.auto_renew, pass_obj.status) == (False, PassStatus.ACTIVE)

    card.get_by_role("button", name="Renew it again").click()
    expect(page.get_by_text("Your pass renews again at the end of each period.")).to_be_visible()
    expect(card.get_by_text(renews)).to_be_visible()
    expect(card.get_by_role("button", name="Stop the renewal (cancel at period end)")).to_be_visible()
    pass_obj.refresh_from_db()
    assert pass_obj.auto_renew


def test_the_plans_page_in_french(page, live_server, space, plans):
    page.goto("/spaces/canal/")
    page.get_by_role("link", name="Formules et tarifs").click()
    expect(page.get_by_role("heading", name="Formules et tarifs")).to_be_visible()
    monthly = page.locator("li.plan[data-kind=monthly]")
    expect(monthly.locator("strong").first).to_have_text("300,00\u00a0€")
    expect(monthly).to_contain_text("(250,00\u00a0€ HT)")
    expect(monthly.locator(".per-day")).to_have_text("15,00\u00a0€ par jour")
    ladder = monthly.get_by_role("table", name="Tarifs dégressifs")
    expect(ladder.get_by_role("row", name=re.compile(r"4 et suivantes 276,00\s€"))).to_be_visible()
