"""Sign-up, e-mail verification, login, password reset and the rate limits around them (allauth)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from members.models import Member, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https?://\S+/accounts/\S+/")


def sign_up(client, email="camille@example.com", password=PASSWORD):
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})


def test_signing_up_creates_an_account_with_its_member_profile_and_sends_a_verification_email(
    client,
):
    response = sign_up(client)
    assert response.status_code == 302
    user = User.objects.get(email="camille@example.com")
    assert Member.objects.filter(user=user).exists()
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["camille@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_an_unverified_account_cannot_log_in(client):
    sign_up(client)
    client.logout()
    response = client.post("/accounts/login/", {"login": "camille@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session


def test_following_the_verification_link_verifies_and_then_login_works(client):
    sign_up(client)
    link = LINK.search(mail.outbox[0].body).group(0)
    client.logout()
    assert client.get(link).status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(email="camille@example.com").verified
    response = client.post("/accounts/login/", {"login": "camille@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(email="camille@example.com").pk)


def test_the_same_email_cannot_sign_up_twice_and_the_owner_is_told(client):
    UserFactory(email="camille@example.com")
    response = sign_up(client, email="Camille@Example.com")
    # The page looks the same as a new sign-up so that it does not reveal who has an account.
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="camille@example.com").count() == 1
    assert mail.outbox[0].to == ["camille@example.com"]


def test_a_weak_password_is_refused_with_a_message(client):
    response = sign_up(client, password="12345678")
    assert response.status_code == 200
    assert not User.objects.exists()
    assert response.context["form"].errors["password1"]


def test_login_with_the_wrong_password_shows_an_error(client):
    UserFactory(email="camille@example.com")
    response = client.post("/accounts/login/", {"login": "camille@example.com", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_repeated_failed_logins_are_rate_limited_even_with_the_right_password_afterwards(client):
    UserFactory(email="camille@example.com")
    for _ in range(5):
        client.post("/accounts/login/", {"login": "camille@example.com", "password": "wrong-password-1"})
    response = client.post("/accounts/login/", {"login": "camille@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in {200, 429}


def test_signups_are_rate_limited_per_address(client):
    statuses = [sign_up(client, email=f"bot{n}@example.com").status_code for n in range(12)]
    client.logout()
    assert 429 in statuses
    assert User.objects.count() <= 10


def test_the_admin_login_goes_through_the_rate_limited_allauth_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_posting_credentials_to_the_admin_login_does_not_log_in(client):
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    response = client.post("/admin/login/", {"username": "boss@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_staff_user_logged_in_through_allauth_reaches_the_admin(client):
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    client.post("/accounts/login/", {"login": "boss@example.com", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_a_member_who_is_not_staff_is_refused_by_the_admin(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/admin/login/").status_code == 403


def test_password_reset_sends_a_link_that_sets_a_new_password(client):
    UserFactory(email="camille@example.com")
    client.post("/accounts/password/reset/", {"email": "camille@example.com"})
    assert len(mail.outbox) == 1
    link = LINK.search(mail.outbox[0].body).group(0)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    client.post(form_url, {"password1": "a-brand-new-passw0rd", "password2": "a-brand-new-passw0rd"})
    assert User.objects.get(email="camille@example.com").check_password("a-brand-new-passw0rd")


def test_a_member_changes_their_password(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "another-long-passw0rd",
            "password2": "another-long-passw0rd",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-passw0rd")


def test_a_member_changes_their_email_after_verifying_the_new_one(client):
    user = UserFactory(email="old@example.com")
    client.force_login(user)
    response = client.post("/accounts/email/", {"action_add": "", "email": "new@example.com"})
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new@example.com"]
    link = LINK.search(mail.outbox[-1].body).group(0)
    client.post(link)
    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_accounts_created_by_the_manager_command_get_a_profile():
    user = User.objects.create_superuser("root@example.com", PASSWORD)
    assert Member.objects.filter(user=user).exists()
