"""Fixtures for card payments: the fake Stripe server (one per test session, emptied for each test) and
the settings that turn card payments on and point the SDK at it."""

import json

import pytest

from tests.stripe_fake.server import FakeStripe, start

WEBHOOK_SECRET = "whsec_test_not_secret"


@pytest.fixture(scope="session")
def _fake_stripe_server():
    fake = FakeStripe()
    server = start(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_stripe(_fake_stripe_server, settings):
    """Card payments on, against the fake Stripe server."""
    fake = _fake_stripe_server
    fake.reset()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_ENABLED = True
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_CHECKOUT_ORIGIN = fake.url
    yield fake
    fake.reset()


def deliver(client, fake, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """Posts `event` to the webhook endpoint, signed as Stripe signs it."""
    payload = json.dumps(event).encode()
    return client.post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake.signature(payload, secret, timestamp),
    )
