"""The member directory: signed-in members only, opted-in members only, each field as its member shows it,
accent- and case-insensitive search by skill and profession, and a bounded number of queries."""

import pytest
from django.urls import reverse

from community import services
from tests.community.conftest import client_for, directory_member
from tests.factories import SpaceFactory, UserFactory

pytestmark = pytest.mark.django_db

DIRECTORY = "/community/directory/"


def names(response) -> list[str]:
    return [card.name for card in response.context["result"].cards]


@pytest.mark.parametrize(
    "url",
    [
        DIRECTORY,
        "/community/board/",
        "/community/settings/",
        "/community/posts/new/",
        "/community/events/new/",
    ],
)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_an_anonymous_visitor_sees_no_member_profile(client, camille):
    response = client.get(reverse("community:member", args=[camille.member.pk]))
    assert response.status_code == 302
    assert "Camille" not in response.content.decode()


def test_the_directory_lists_opted_in_members_and_never_their_e_mail(viewer_client, camille):
    directory_member(name="Hidden Hugo", profession="Photographe", opt_in=False)
    response = viewer_client.get(DIRECTORY)
    assert response.status_code == 200
    assert "Camille" in names(response)
    assert "Hidden Hugo" not in names(response)
    page = response.content.decode()
    assert "UX designer" in page
    assert "camille@example.com" not in page
    profile = viewer_client.get(reverse("community:member", args=[camille.member.pk]))
    assert profile.status_code == 200
    assert "camille@example.com" not in profile.content.decode()


def test_an_opted_out_or_erased_member_has_no_profile_page(viewer_client):
    out = directory_member(name="Out", opt_in=False)
    erased = directory_member(name="Gone")
    from django.utils import timezone

    from members import services as member_services

    member_services.member_erase(user=erased, now=timezone.now())
    for user in (out, erased):
        assert viewer_client.get(reverse("community:member", args=[user.member.pk])).status_code == 404


@pytest.mark.parametrize("query", ["développeur", "DEVELOPPEUR", "Developpeur", "dévelop"])
def test_skill_search_ignores_case_and_accents(viewer_client, camille, query):
    directory_member(name="Zoé", profession="Comptable", skills=["Comptabilité"])
    response = viewer_client.get(DIRECTORY, {"skill": query})
    assert names(response) == ["Camille"]


def test_profession_search_ignores_case_and_accents(viewer_client):
    directory_member(name="Inès", profession="Développeuse web")
    directory_member(name="Paul", profession="Photographe")
    assert names(viewer_client.get(DIRECTORY, {"profession": "developpeuse"})) == ["Inès"]
    assert names(viewer_client.get(DIRECTORY, {"profession": "PHOTO"})) == ["Paul"]


def test_search_by_space_finds_the_members_who_use_it(viewer_client, camille):
    lille, paris = SpaceFactory(name="Lille"), SpaceFactory(name="Paris")
    services.community_profile_update(user=camille, data={}, spaces=[lille])
    assert names(viewer_client.get(DIRECTORY, {"space": lille.slug})) == ["Camille"]
    assert names(viewer_client.get(DIRECTORY, {"space": paris.slug})) == []


def test_a_member_hides_a_field_and_is_not_found_through_it(viewer_client, camille):
    services.community_profile_update(user=camille, data={"show_skills": False, "show_profession": False})
    assert names(viewer_client.get(DIRECTORY, {"skill": "ux design"})) == []
    assert names(viewer_client.get(DIRECTORY, {"profession": "designer"})) == []
    response = viewer_client.get(DIRECTORY)
    assert names(response) == ["Camille", "Yanis Viewer"]
    page = response.content.decode()
    assert "UX designer" not in page
    assert "UX design" not in page


def test_opting_out_from_the_settings_page_removes_the_member_at_once(camille, viewer_client):
    own = client_for(camille)
    assert "Camille" in names(viewer_client.get(DIRECTORY))
    response = own.post("/community/settings/", {"show_skills": "on", "digest_enabled": "on"})
    assert response.status_code == 302
    camille.member.refresh_from_db()
    assert camille.member.directory_opt_in is False
    assert "Camille" not in names(viewer_client.get(DIRECTORY))
    assert viewer_client.get(reverse("community:member", args=[camille.member.pk])).status_code == 404


def test_opting_in_from_the_settings_page_records_the_consent(db):
    user = UserFactory(member__display_name="Nour")
    response = client_for(user).post("/community/settings/", {"directory_opt_in": "on", "show_skills": "on"})
    assert response.status_code == 302
    user.member.refresh_from_db()
    assert user.member.directory_opt_in is True
    assert user.member.directory_consent_at is not None


def test_bad_search_input_is_not_an_error(viewer_client):
    response = viewer_client.get(DIRECTORY, {"space": "no-such-space", "page": "abc", "skill": "x" * 500})
    assert response.status_code == 200


def test_the_search_answers_htmx_with_the_results_only(viewer_client, camille):
    response = viewer_client.get(DIRECTORY, {"skill": "ux"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "Camille" in response.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_directory_reads_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, count):
    space = SpaceFactory()
    for n in range(count):
        user = directory_member(
            name=f"Membre {n:02d}", profession="Développeur", skills=["Python", f"Skill {n}"]
        )
        services.community_profile_update(user=user, data={"show_bio": n % 2 == 0}, spaces=[space])
    with django_assert_max_num_queries(14):
        response = viewer_client.get(DIRECTORY, {"skill": "python", "profession": "developpeur"})
    assert response.context["result"].total == count
