"""members.auth reads the signed-in user with prepared SQL; sessions signed in under the old backend names
stay signed in (members.middleware)."""

from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.urls import reverse

from members.auth import ModelBackend
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def session_for(user, backend: str) -> str:
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("django.contrib.auth.backends.ModelBackend", "members.auth.ModelBackend"),
        ("allauth.account.auth_backends.AuthenticationBackend", "members.auth.AccountBackend"),
    ],
)
def test_a_session_signed_in_under_an_old_backend_name_stays_signed_in(client, old, new):
    user = UserFactory(member__display_name="Camille")
    key = session_for(user, old)
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.get(reverse("bookings:mine"))
    assert response.status_code == 200
    assert response.wsgi_request.user == user
    stored = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).load()
    assert stored[BACKEND_SESSION_KEY] == new


def test_an_unknown_backend_name_is_still_signed_out(client):
    user = UserFactory(member__display_name="Camille")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(user, "somewhere.else.Backend")
    assert client.get(reverse("bookings:mine")).status_code == 302


def test_the_backend_reads_active_users_only():
    active, inactive = UserFactory(), UserFactory(is_active=False)
    backend = ModelBackend()
    assert backend.get_user(active.pk) == active
    assert backend.get_user(str(active.pk)) == active
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user(10**9) is None
    assert backend.get_user("not a number") is None
