"""The fake Stripe server answers with Stripe's shapes: every object it returns has exactly the keys
of Stripe's own fixture of its kind (tests/stripe_fake/fixtures.json), with the same JSON types where
both are set, so the application is tested against what Stripe really sends."""

import json
import urllib.request
from decimal import Decimal

import pytest

from tests.stripe_fake.server import FIXTURES

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = {
    "customer": "/v1/customers/{}",
    "checkout.session": "/v1/checkout/sessions/{}",
    "payment_intent": "/v1/payment_intents/{}",
    "setup_intent": "/v1/setup_intents/{}",
    "payment_method": "/v1/payment_methods/{}",
    "refund": "/v1/refunds/{}",
}


def get(fake, path):
    request = urllib.request.Request(fake.url + path, headers={"Authorization": "Bearer sk_test_fake"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def same_shape(obj: dict, model: dict, where: str) -> list[str]:
    problems = []
    if set(obj) != set(model):
        problems.append(f"{where}: keys {sorted(set(obj) ^ set(model))}")
    for key in set(obj) & set(model):
        a, b = obj[key], model[key]
        if a is None or b is None:
            continue
        if isinstance(b, dict) and isinstance(a, dict) and key not in ("metadata",):
            continue  # nested objects vary by type (next_action, last_payment_error...)
        if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
            problems.append(f"{where}.{key}: {type(a).__name__} instead of {type(b).__name__}")
    return problems


def test_every_object_and_event_of_a_whole_flow_has_stripe_s_shape(client, fake_stripe):
    from billing import cards
    from tests.factories import UserFactory

    member = UserFactory(member__display_name="Camille")
    customer = cards.customer_for(user=member)
    method = fake_stripe.card(customer)
    intent = cards.edge.charge_off_session(
        customer_id=customer,
        payment_method_id=method["id"],
        amount=Decimal("12.00"),
        currency="EUR",
        key="k1",
        metadata={},
    )
    cards.edge.refund_create(
        intent_id=intent.id, amount=Decimal("2.00"), currency="EUR", key="r1", metadata={}
    )
    session = cards.edge.checkout_setup_create(
        key="s1",
        customer_id=customer,
        language="fr",
        success_url="http://x/",
        cancel_url="http://x/",
        metadata={},
    )
    fake_stripe.complete_checkout(session["id"])
    problems = []
    kinds = set()
    for obj_id, obj in list(fake_stripe.objects.items()):
        kinds.add(obj["object"])
        returned = get(fake_stripe, ROUTES[obj["object"]].format(obj_id))
        problems += same_shape(returned, FIXTURES[obj["object"]], f"{obj['object']} {obj_id}")
    for event in fake_stripe.events:
        problems += same_shape(event, FIXTURES["event"], f"event {event['type']}")
        inner = event["data"]["object"]
        problems += same_shape(inner, FIXTURES[inner["object"]], f"event {event['type']} object")
    assert kinds == set(ROUTES)
    assert problems == []


def test_errors_have_stripe_s_error_shape(fake_stripe):
    request = urllib.request.Request(
        fake_stripe.url + "/v1/payment_intents/pi_missing", headers={"Authorization": "Bearer sk_test_fake"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 404
    body = json.loads(error.value.read())
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "resource_missing"
