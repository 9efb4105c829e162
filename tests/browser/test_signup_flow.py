import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.factories import ResourceFactory, SpaceFactory, ZoneFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "une-phrase-de-passe-solide"


def test_a_freelancer_signs_up_verifies_her_email_logs_in_and_opens_a_space(page, live_server):
    space = SpaceFactory(name="La Ruche du Vieux-Lille", slug="la-ruche", city="Lille")
    ResourceFactory(zone=ZoneFactory(space=space, name="Open space"), name="Bureau 01")

    page.goto("/")
    expect(page.get_by_role("heading", name="Trouvez un bureau près de chez vous")).to_be_visible()
    page.get_by_role("link", name="S'inscrire").first.click()

    page.get_by_label("Courriel").fill("camille@example.com")
    page.get_by_label("Mot de passe :", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Création de compte").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.context.clear_cookies()
    page.goto(link)
    page.locator("main form button[type=submit]").click()

    page.goto("/accounts/login/")
    page.get_by_label("Courriel").fill("camille@example.com")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("link", name="Mon compte")).to_be_visible()

    page.get_by_role("link", name="La Ruche du Vieux-Lille").click()
    expect(page.get_by_role("heading", name="La Ruche du Vieux-Lille")).to_be_visible()
    expect(page.get_by_text("Bureau 01")).to_be_visible()
    expect(page.get_by_role("heading", name="Horaires d'ouverture")).to_be_visible()


def test_the_language_switcher_works_in_the_browser(page, live_server):
    SpaceFactory(name="Canal", slug="canal", city="Paris")
    page.goto("/")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="Find a desk near you")).to_be_visible()
    page.get_by_role("button", name="FR").click()
    expect(page.get_by_role("heading", name="Trouvez un bureau près de chez vous")).to_be_visible()
