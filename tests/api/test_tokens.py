"""Personal API tokens: the services, the `create_api_token` command and the account page."""

import hashlib
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from members.models import ApiToken, User
from members.tokens import token_authenticate, token_create, token_revoke
from tests.factories import UserFactory

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
PAGE = "/accounts/api-tokens/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", member__display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", member__display_name="Bob")


# Services.


def test_a_token_is_random_and_only_its_digest_is_stored(alice):
    token, raw = token_create(user=alice, name="  My   script ")
    _, other_raw = token_create(user=alice, name="Other")
    assert raw.startswith("cw_")
    assert len(raw) == 3 + 43
    assert raw != other_raw
    token.refresh_from_db()
    assert token.name == "My script"
    assert token.prefix == raw[:12]
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert not ApiToken.objects.filter(digest__contains=raw[3:]).exists()
    assert raw not in {token.name, token.prefix, token.digest}
    assert (token.last_used_at, token.revoked_at, token.is_active) == (None, None, True)


def test_a_token_needs_a_name(alice):
    for name in ("   ", "a\x00b"):
        with pytest.raises(ValueError, match="name"):
            token_create(user=alice, name=name)


def test_authenticate_finds_the_user_and_records_the_use_at_most_once_a_minute(alice, time_machine):
    token, raw = token_create(user=alice, name="script")
    assert token_authenticate(raw) == alice
    token.refresh_from_db()
    assert token.last_used_at == NOW

    time_machine.shift(timedelta(seconds=59))
    assert token_authenticate(raw) == alice
    token.refresh_from_db()
    assert token.last_used_at == NOW

    time_machine.shift(timedelta(seconds=1))
    assert token_authenticate(raw) == alice
    token.refresh_from_db()
    assert token.last_used_at == NOW + timedelta(minutes=1)


def test_a_recent_use_costs_a_single_query(alice, django_assert_num_queries):
    _, raw = token_create(user=alice, name="script")
    token_authenticate(raw)
    with django_assert_num_queries(1):
        assert token_authenticate(raw) == alice


@pytest.mark.parametrize("raw", [None, "", "cw_", "cw_unknown", "not-even-prefixed", "cw_" + "a" * 200, 42])
def test_unknown_tokens_do_not_authenticate(alice, raw):
    token_create(user=alice, name="script")
    assert token_authenticate(raw) is None


def test_revoked_tokens_and_inactive_users_do_not_authenticate(alice, bob):
    token, raw = token_create(user=alice, name="script")
    revoked = token_revoke(token=token, user=alice)
    assert (revoked.revoked_at, revoked.is_active) == (NOW, False)
    assert token_authenticate(raw) is None
    # Revoking again changes nothing.
    assert token_revoke(token=token, user=alice, now=NOW + timedelta(days=1)).revoked_at == NOW

    _, bobs = token_create(user=bob, name="script")
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert token_authenticate(bobs) is None


def test_nobody_revokes_another_users_token(alice, bob):
    token, raw = token_create(user=alice, name="script")
    with pytest.raises(ApiToken.DoesNotExist):
        token_revoke(token=token, user=bob)
    assert token_authenticate(raw) == alice


# The command.


def test_the_command_prints_a_token_that_authenticates(alice):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "Alice@Example.com", "--name", "Backup job", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("cw_")
    assert "\n" not in raw
    assert token_authenticate(raw) == alice
    assert ApiToken.objects.get().name == "Backup job"
    assert "Backup job" in err.getvalue()
    response = Client().get("/api/v1/bookings", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_the_command_has_a_default_name(alice):
    call_command("create_api_token", "alice@example.com", stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiToken.objects.get().name == "Command line"


def test_the_command_refuses_an_unknown_or_inactive_account(alice):
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        call_command("create_api_token", "nobody@example.com", stdout=io.StringIO())
    User.objects.filter(pk=alice.pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        call_command("create_api_token", "alice@example.com", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_token", "alice@example.com", "--name", " ", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


# The account page.


def test_the_page_needs_a_signed_in_member(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_creating_a_token_shows_it_once(client, alice, bob):
    token_create(user=bob, name="Bob's secret script")
    client.force_login(alice)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b"Bob&#x27;s secret script" not in response.content
    assert 'href="/accounts/api-tokens/"' in response.content.decode()  # the account menu links here

    response = client.post(PAGE, {"name": "Home automation"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=alice)
    raw = response.context["raw_token"]
    assert token_authenticate(raw) == alice
    page = response.content.decode()
    assert raw in page
    assert "Home automation" in page
    assert token.prefix in page

    page = client.get(PAGE).content.decode()
    assert raw not in page
    assert "Home automation" in page
    assert token.prefix in page


def test_a_token_needs_a_valid_name_on_the_page(client, alice):
    client.force_login(alice)
    for name in ("", "x" * 81):
        response = client.post(PAGE, {"name": name})
        assert response.status_code == 200
        assert response.context["form"].errors
        assert response.context["raw_token"] is None
    assert not ApiToken.objects.exists()


def test_revoking_a_token_from_the_page(client, alice):
    token, raw = token_create(user=alice, name="Old laptop")
    client.force_login(alice)
    url = f"/accounts/api-tokens/{token.pk}/revoke/"
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    token.refresh_from_db()
    assert token.revoked_at == NOW
    assert token_authenticate(raw) is None
    assert "Old laptop" in response.content.decode()
    assert response.content.decode().count('action="/accounts/api-tokens/') == 0


def test_nobody_revokes_another_members_token_from_the_page(client, alice, bob):
    token, raw = token_create(user=alice, name="script")
    client.force_login(bob)
    assert client.post(f"/accounts/api-tokens/{token.pk}/revoke/").status_code == 404
    assert token_authenticate(raw) == alice


def test_the_page_needs_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(PAGE, {"name": "script"}).status_code == 403
    token, _ = token_create(user=alice, name="script")
    assert browser.post(f"/accounts/api-tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.is_active


def test_the_page_has_no_inline_script_or_handler(client, alice):
    token_create(user=alice, name="script")
    client.force_login(alice)
    page = client.post(PAGE, {"name": "Another"}).content.decode().lower()
    assert "<script>" not in page
    for handler in ("onclick", "onload", "onsubmit", "onchange", "javascript:"):
        assert handler not in page
