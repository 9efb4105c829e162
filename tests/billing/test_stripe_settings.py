"""The three Stripe keys: all three turn card payments on, none keeps the offline gateway, a partial
set refuses to start (each case in a fresh interpreter, like tests/coworking/test_settings.py)."""

import json
import os
import subprocess
import sys

import pytest

from billing.gateways import OfflineGateway, default_gateway
from billing.stripe_gateway import StripeGateway
from tests.coworking.test_settings import ROOT

KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}
PROBE = """
import django, json
django.setup()
from django.conf import settings
print(json.dumps([settings.STRIPE_ENABLED, settings.STRIPE_API_BASE]))
"""


def start(tmp_path, **keys) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "STRIPE_"))}
    env.update(DJANGO_SETTINGS_MODULE="coworking.settings", VAR_DIR=str(tmp_path), DEBUG="1", **keys)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def enabled(tmp_path, **keys) -> list:
    result = start(tmp_path, **keys)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_keys_card_payments_are_off(tmp_path):
    assert enabled(tmp_path) == [False, ""]


def test_with_the_three_keys_card_payments_are_on_against_stripe_itself(tmp_path):
    assert enabled(tmp_path, **KEYS) == [True, ""]


@pytest.mark.parametrize("missing", sorted(KEYS))
def test_a_partial_set_of_keys_is_a_clear_start_up_error(tmp_path, missing):
    result = start(tmp_path, **{name: value for name, value in KEYS.items() if name != missing})
    assert result.returncode != 0
    assert "Card payments need all three Stripe settings" in result.stderr
    assert f"{missing} is not set" in result.stderr


def test_the_default_gateway_follows_the_keys(settings):
    settings.STRIPE_ENABLED = False
    assert isinstance(default_gateway(), OfflineGateway)
    settings.STRIPE_ENABLED = True
    assert isinstance(default_gateway(), StripeGateway)
