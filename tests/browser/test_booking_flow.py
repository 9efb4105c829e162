"""Camille books a desk in a real Chromium: open a space, switch day, book, see it, cancel it; then try
a desk somebody else holds and read why she cannot."""

import re
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Booking, BookingStatus
from members.models import User
from spaces.models import Space
from tests.factories import BookingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def next_weekday_after(start: date, days: int) -> date:
    day = start + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@override_settings(DEMO_PASSWORDS=True)
def test_the_demo_member_books_a_desk_sees_it_and_cancels_it(page, live_server):
    call_command("seed_demo", stdout=StringIO())
    space = Space.objects.get(slug="lille-vieux-lille")
    day = next_weekday_after(timezone.localdate(), 3)
    someone_else = User.objects.get(email="member-paris@example.com")
    taken_desk = space.resources.get(name="Bureau 02")
    BookingFactory(resource=taken_desk, member=someone_else, day=day)

    page.goto("/accounts/login/")
    page.get_by_label("Courriel").fill("member-lille@example.com")
    page.get_by_label("Mot de passe").fill("coworking-demo")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("link", name="Mes réservations")).to_be_visible()

    page.goto("/spaces/lille-vieux-lille/")
    page.get_by_role("link", name="Voir les disponibilités et réserver").click()
    expect(page).to_have_url(re.compile(r"/spaces/lille-vieux-lille/availability/"))
    # Switch day with the date picker (htmx swaps the grid and updates the address).
    page.locator("#day-picker").fill(day.isoformat())
    page.locator("#day-picker").dispatch_event("change")
    expect(page).to_have_url(re.compile(rf"date={day.isoformat()}"))
    expect(page.locator("#day-picker")).to_have_value(day.isoformat())

    page.get_by_role("button", name="Réserver Bureau 01 pour la journée").click()
    expect(page.get_by_text("Réservé : Bureau 01")).to_be_visible()
    expect(page.locator("td.cell.yours").first).to_be_visible()
    booking = Booking.objects.get(member__email="member-lille@example.com")
    assert booking.local_date == day

    # The desk somebody else holds is shown as taken; asking for it anyway explains why not.
    row = page.get_by_role("row", name=re.compile("Bureau 02"))
    expect(row.locator("td.cell.taken").first).to_be_visible()

    page.get_by_role("link", name="Mes réservations").click()
    upcoming = page.locator("table.bookings").first
    expect(upcoming.get_by_text("Bureau 01")).to_be_visible()
    upcoming.get_by_role("button", name="Annuler").click()
    expect(page.get_by_text("Votre réservation est annulée")).to_be_visible()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_asking_for_a_desk_taken_meanwhile_shows_the_message(page, live_server):
    from tests.factories import PASSWORD, ResourceFactory, SpaceFactory, UserFactory, ZoneFactory

    space = SpaceFactory(name="Canal", slug="canal", weekdays=[0, 1, 2, 3, 4, 5, 6])
    desk = ResourceFactory(zone=ZoneFactory(space=space, name="Open space"), name="Bureau 01")
    UserFactory(email="camille@example.com", member__display_name="Camille")
    day = timezone.localdate() + timedelta(days=3)

    page.goto("/accounts/login/")
    page.get_by_label("Courriel").fill("camille@example.com")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"/spaces/canal/availability/?date={day.isoformat()}")
    # Someone books the desk while Camille looks at the page.
    BookingFactory(resource=desk, member=UserFactory(member__display_name="Yanis"), day=day)
    page.get_by_role("button", name="Réserver Bureau 01 pour la journée").click()
    expect(page.get_by_text("Désolé, ce créneau vient d'être pris. Choisissez-en un autre.")).to_be_visible()
    assert Booking.objects.filter(member__email="camille@example.com").count() == 0
