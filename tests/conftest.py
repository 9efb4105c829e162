import pytest
from django.core.cache import cache

from bookings import page_cache, selectors
from tests import factories


@pytest.fixture(autouse=True)
def _clean_cache():
    # Rate limits and cached pages live in the cache (and pages and setup entries in each process's own
    # copy too): every test starts from empty ones.
    cache.clear()
    page_cache.local_pages.clear()
    selectors.setup_entries.clear()
    yield
    cache.clear()
    page_cache.local_pages.clear()
    selectors.setup_entries.clear()


@pytest.fixture
def space(db):
    return factories.SpaceFactory()


@pytest.fixture
def member_user(db):
    return factories.UserFactory(member__display_name="Camille Martin")


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


@pytest.fixture
def french(client):
    client.cookies["django_language"] = "fr"
    return client


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


# The fake Stripe server and the settings that point card payments at it (tests/stripe_fake).
from tests.stripe_fake.plugin import _fake_stripe_server, fake_stripe  # noqa: E402, F401
