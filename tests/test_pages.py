"""Every page answers in French (the default) and in English."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.factories import ClosureFactory, ResourceFactory, SpaceFactory, ZoneFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lille():
    space = SpaceFactory(name="La Ruche", slug="la-ruche", city="Lille")
    zone = ZoneFactory(space=space, name="Open space")
    ResourceFactory(zone=zone, name="Bureau 01", amenities="écran")
    ResourceFactory(zone=zone, name="Salle Jacquard", kind="meeting_room", capacity=8)
    ResourceFactory(zone=zone, name="Bureau caché", is_active=False)
    ClosureFactory(space=space, reason="Noël")
    return space


def test_the_home_page_lists_spaces_by_city_in_french_by_default(client, lille):
    SpaceFactory(name="Canal", slug="canal", city="Paris")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert "Trouvez un bureau près de chez vous" in html
    assert html.index(">Lille<") < html.index(">Paris<")
    assert "1 bureau" in html
    assert "1 salle de réunion" in html


def test_the_home_page_in_english(english, lille):
    html = english.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Find a desk near you" in html
    assert "1 desk" in html


def test_the_language_switcher_sets_english_then_french(client, lille):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/spaces/la-ruche/"})
    assert response.status_code == 302
    assert response.url == "/spaces/la-ruche/"
    assert "Opening hours" in client.get("/spaces/la-ruche/").content.decode()
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert "Horaires d'ouverture" in client.get("/spaces/la-ruche/").content.decode()


def test_the_space_page_shows_hours_resources_and_closures(client, lille):
    html = client.get("/spaces/la-ruche/").content.decode()
    assert "La Ruche" in html
    assert "Lundi" in html
    assert "08:30 – 19:00" in html
    assert "Samedi" in html
    assert "Fermé" in html
    assert "Open space" in html
    assert "Bureau 01" in html
    assert "Salle Jacquard" in html
    assert "Bureau caché" not in html
    assert "Noël" in html


def test_the_space_page_in_english(english, lille):
    html = english.get("/spaces/la-ruche/").content.decode()
    assert "Monday" in html
    assert "Closed" in html
    assert "Desks and rooms" in html


def test_an_unknown_or_inactive_space_is_404(client, lille):
    SpaceFactory(slug="closed-for-good", is_active=False)
    assert client.get("/spaces/nowhere/").status_code == 404
    assert client.get("/spaces/closed-for-good/").status_code == 404


def test_the_space_page_query_count_does_not_grow_with_resources(
    client, lille, django_assert_max_num_queries
):
    zone = lille.zones.first()
    for n in range(40):
        ResourceFactory(zone=zone, name=f"Extra {n}")
    with django_assert_max_num_queries(8):
        assert client.get("/spaces/la-ruche/").status_code == 200


@pytest.mark.parametrize(
    ("path", "french", "english"),
    [
        ("/accounts/login/", "Connexion", "Sign In"),
        ("/accounts/signup/", "Inscription", "Sign Up"),
        ("/accounts/password/reset/", "mot de passe", "Password Reset"),
    ],
)
def test_account_pages_in_both_languages(client, path, french, english):
    client.cookies["django_language"] = "fr"
    assert french in client.get(path).content.decode()
    client.cookies["django_language"] = "en"
    assert english in client.get(path).content.decode()


@pytest.mark.parametrize(
    ("path", "french", "english"),
    [
        ("/accounts/profile/", "Mon profil", "My profile"),
        ("/accounts/delete/", "Supprimer mon compte", "Delete my account"),
        ("/accounts/email/", "Adresse", "Email Address"),
        ("/accounts/password/change/", "Modifier le mot de passe", "Change Password"),
    ],
)
def test_signed_in_account_pages_in_both_languages(member_client, path, french, english):
    member_client.cookies["django_language"] = "fr"
    response = member_client.get(path)
    assert response.status_code == 200
    assert french in response.content.decode()
    member_client.cookies["django_language"] = "en"
    assert english in member_client.get(path).content.decode()


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, lille):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    html = response.content.decode()
    assert "<script>" not in html
    assert "onclick" not in html


@override_settings(DEMO_PASSWORDS=True)
def test_the_home_page_lists_the_four_demo_spaces_in_french(client):
    call_command("seed_demo", stdout=StringIO())
    html = client.get("/").content.decode()
    for city in ("Lille", "Paris", "Montpellier", "Bruxelles"):
        assert f">{city}<" in html
    assert "28 bureaux" in html  # 22 hot desks and 6 dedicated desks
