import pytest
from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile

from members.models import Member, Skill, User
from tests.factories import PASSWORD, ManagerAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def profile_data(**overrides):
    data = {
        "display_name": "Camille Martin",
        "profession": "UX designer",
        "skills_text": "UX design, Figma",
        "bio": "",
        "company": "",
        "website": "",
        "phone": "",
        "preferred_language": "fr",
        "billing_name": "",
        "billing_address": "",
        "billing_country": "FR",
        "vat_number": "",
        "company_registration": "",
    }
    data.update(overrides)
    return data


def test_the_profile_page_needs_a_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_member_edits_their_profile_and_skills(member_client, member_user):
    response = member_client.post(
        "/accounts/profile/",
        profile_data(website="camille.example.com", vat_number="fr 32 812345672"),
    )
    assert response.status_code == 302
    member = Member.objects.get(user=member_user)
    assert member.profession == "UX designer"
    assert member.website == "https://camille.example.com"
    assert member.vat_number == "FR32812345672"
    assert sorted(member.skills.values_list("name", flat=True)) == ["Figma", "UX design"]


def test_skills_are_matched_without_case_or_accents(member_client, member_user):
    Skill.objects.create(name="Développeur", key="developpeur")
    member_client.post("/accounts/profile/", profile_data(skills_text="developpeur, DÉVELOPPEUR, Python"))
    member = Member.objects.get(user=member_user)
    assert sorted(member.skills.values_list("name", flat=True)) == ["Développeur", "Python"]
    assert Skill.objects.filter(key="developpeur").count() == 1


def test_bad_profile_input_gets_form_errors_and_changes_nothing(member_client, member_user):
    response = member_client.post(
        "/accounts/profile/",
        profile_data(display_name="", website="not a url", skills_text=",".join(f"s{n}" for n in range(25))),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"display_name", "website", "skills_text"} <= set(errors)
    assert Member.objects.get(user=member_user).profession == ""


def test_joining_the_directory_records_the_consent(member_client, member_user):
    member_client.post("/accounts/profile/", profile_data(directory_opt_in="on"))
    member = Member.objects.get(user=member_user)
    assert member.directory_opt_in
    assert member.directory_consent_at is not None
    assert member.directory_consent_version
    member_client.post("/accounts/profile/", profile_data())
    member.refresh_from_db()
    assert not member.directory_opt_in
    assert member.directory_consent_at is None


def test_the_directory_is_off_by_default(member_user):
    assert Member.objects.get(user=member_user).directory_opt_in is False


def test_a_profile_photo_can_be_uploaded(member_client, member_user):
    gif = (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )
    upload = SimpleUploadedFile("me.gif", gif, content_type="image/gif")
    response = member_client.post("/accounts/profile/", {**profile_data(), "photo": upload})
    assert response.status_code == 302
    assert Member.objects.get(user=member_user).photo.name.startswith("members/")


def test_deleting_the_account_needs_the_password(member_client, member_user):
    response = member_client.post("/accounts/delete/", {"password": "not-my-password"})
    assert response.status_code == 200
    assert User.objects.get(pk=member_user.pk).is_active


def test_deleting_the_account_erases_personal_data_and_signs_out(client):
    user = UserFactory(
        email="camille@example.com", member__display_name="Camille", member__phone="0600000000"
    )
    ManagerAssignmentFactory(user=user)
    from members.tokens import token_create

    token_create(user=user, name="script")
    client.force_login(user)
    client.post("/accounts/profile/", profile_data(directory_opt_in="on", bio="Hello"))
    response = client.post("/accounts/delete/", {"password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    member = Member.objects.get(user=user)
    assert not user.is_active
    assert not user.is_staff
    assert "camille" not in user.email
    assert not user.has_usable_password()
    assert member.display_name == member.bio == member.phone == member.profession == ""
    assert not member.directory_opt_in
    assert not member.skills.exists()
    assert member.erased_at is not None
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not user.manager_assignments.exists()
    assert not user.api_tokens.filter(revoked_at__isnull=True).exists()
    assert "_auth_user_id" not in client.session
    # The address is free again and the old credentials no longer work.
    assert (
        client.post("/accounts/login/", {"login": "camille@example.com", "password": PASSWORD}).status_code
        == 200
    )
