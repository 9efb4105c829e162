"""Stripe's webhook endpoint: signatures, deduplication by event id, any arrival order, retries."""

import itertools
import json
import time
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from billing.models import (
    CardAccount,
    Invoice,
    InvoiceStatus,
    Notice,
    Pass,
    PassStatus,
    Payment,
    PaymentStatus,
    Refund,
    WebhookEvent,
)
from tests.factories import PlanFactory, SpaceFactory, UserFactory
from tests.stripe_fake.plugin import WEBHOOK_SECRET, deliver

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def monthly():
    space = SpaceFactory(slug="lille", invoice_prefix="LIL")
    return PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))


@pytest.fixture
def member():
    return UserFactory(member__display_name="Camille Martin", member__preferred_language="fr")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def paid_in_checkout(member_client, plan, fake) -> str:
    """Buys by card and pays on Checkout's page, without coming back: only the webhooks tell us."""
    today = timezone.localdate(timezone=PARIS)
    response = member_client.post(
        f"/spaces/{plan.space.slug}/plans/{plan.pk}/buy/", {"start": today.isoformat(), "start_now": "on"}
    )
    session_id = urlsplit(response["Location"]).path.rsplit("/", 1)[-1]
    fake.complete_checkout(session_id)
    return session_id


def state(member) -> dict:
    """Everything a delivery can change, as a member or a manager would see it."""
    pass_obj = Pass.objects.get(member=member)
    invoice = pass_obj.periods.get().invoice
    account = CardAccount.objects.filter(member=member).first()
    return {
        "pass": pass_obj.status,
        "invoice": Invoice.objects.get(pk=invoice.pk).status,
        "payments": sorted(Payment.objects.filter(invoice=invoice).values_list("status", "amount")),
        "card": bool(account and account.payment_method_id),
        "events": WebhookEvent.objects.count(),
        "notices": Notice.objects.count(),
    }


# --- signatures -------------------------------------------------------------------------------------


@pytest.fixture
def some_event(member_client, monthly, fake_stripe):
    paid_in_checkout(member_client, monthly, fake_stripe)
    return fake_stripe.event_for("checkout.session.completed")


@pytest.mark.parametrize(
    "how", ["missing", "wrong secret", "stale", "tampered", "garbage header", "future beyond tolerance"]
)
def test_a_bad_signature_is_a_400_and_writes_nothing(client, member, some_event, fake_stripe, how):
    before = state(member)
    payload = json.dumps(some_event).encode()
    headers = {}
    if how == "wrong secret":
        headers["HTTP_STRIPE_SIGNATURE"] = fake_stripe.signature(payload, "whsec_someone_else")
    elif how == "stale":
        headers["HTTP_STRIPE_SIGNATURE"] = fake_stripe.signature(
            payload, WEBHOOK_SECRET, int(time.time()) - 301
        )
    elif how == "future beyond tolerance":
        headers["HTTP_STRIPE_SIGNATURE"] = fake_stripe.signature(
            payload, WEBHOOK_SECRET, int(time.time()) + 3600
        )
    elif how == "tampered":
        headers["HTTP_STRIPE_SIGNATURE"] = fake_stripe.signature(payload, WEBHOOK_SECRET)
        payload = payload.replace(b'"complete"', b'"expired"')
    elif how == "garbage header":
        headers["HTTP_STRIPE_SIGNATURE"] = "t=abc,v1=zzz"
    response = client.post("/stripe/webhook/", data=payload, content_type="application/json", **headers)
    assert response.status_code == 400
    assert state(member) == before
    assert not fake_stripe.calls("GET", "/v1/checkout/sessions")  # not even read


def test_a_signature_just_inside_the_tolerance_is_accepted(client, member, some_event, fake_stripe):
    response = deliver(client, fake_stripe, some_event, timestamp=int(time.time()) - 290)
    assert response.status_code == 200
    assert state(member)["pass"] == PassStatus.ACTIVE


def test_a_signed_body_that_is_not_an_event_is_a_400(client, fake_stripe):
    payload = b'{"not": "an event"}'
    response = client.post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.signature(payload, WEBHOOK_SECRET),
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {}}',
        b'{"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": {"amount": 1}}}',
        b'{"id": "evt_3", "type": "payment_intent.succeeded", "data": {"object": []}}',
    ],
)
def test_a_signed_but_malformed_event_is_a_400_not_a_500(client, fake_stripe, body):
    response = client.post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.signature(body, WEBHOOK_SECRET),
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_the_endpoint_answers_only_posts(client, fake_stripe):
    assert client.get("/stripe/webhook/").status_code == 405


# --- what events do ---------------------------------------------------------------------------------


def test_checkout_completed_activates_the_pass_after_fetching_the_session(
    client, member, some_event, fake_stripe
):
    response = deliver(client, fake_stripe, some_event)
    assert response.status_code == 200
    assert response.json() == {"received": "done"}
    assert state(member)["pass"] == PassStatus.ACTIVE
    assert state(member)["card"] is True
    assert fake_stripe.calls("GET", f"/v1/checkout/sessions/{some_event['data']['object']['id']}")


def test_an_event_s_body_is_never_trusted(client, member, member_client, monthly, fake_stripe):
    """A completed-looking event about a session that is still open changes nothing."""
    today = timezone.localdate(timezone=PARIS)
    response = member_client.post(
        f"/spaces/lille/plans/{monthly.pk}/buy/", {"start": today.isoformat(), "start_now": "on"}
    )
    session_id = urlsplit(response["Location"]).path.rsplit("/", 1)[-1]
    event = {
        "id": "evt_forged_but_signed",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {"id": session_id, "object": "checkout.session", "status": "complete"}},
    }
    assert deliver(client, fake_stripe, event).status_code == 200
    assert state(member)["pass"] == PassStatus.PENDING


def test_an_unknown_event_type_is_acknowledged(client, fake_stripe):
    event = {
        "id": "evt_unknown",
        "object": "event",
        "type": "invoice.finalized",
        "data": {"object": {"id": "in_1"}},
    }
    response = deliver(client, fake_stripe, event)
    assert response.status_code == 200
    assert response.json() == {"received": "ignored"}


def test_a_duplicate_is_acknowledged_and_ignored(client, member, some_event, fake_stripe):
    deliver(client, fake_stripe, some_event)
    reads = len(fake_stripe.requests)
    response = deliver(client, fake_stripe, some_event)
    assert response.status_code == 200
    assert response.json() == {"received": "duplicate"}
    assert len(fake_stripe.requests) == reads  # not even fetched again
    assert WebhookEvent.objects.count() == 1


def test_a_transient_error_is_a_5xx_and_the_retry_applies_it(client, member, some_event, fake_stripe):
    fake_stripe.fail(times=1, path="/v1/checkout/sessions")
    response = deliver(client, fake_stripe, some_event)
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()
    assert state(member)["pass"] == PassStatus.PENDING
    response = deliver(client, fake_stripe, some_event)  # Stripe retries
    assert response.status_code == 200
    assert state(member)["pass"] == PassStatus.ACTIVE


def test_a_detached_card_is_forgotten_and_the_member_told(
    client, member_client, member, monthly, fake_stripe
):
    session_id = paid_in_checkout(member_client, monthly, fake_stripe)
    member_client.get("/accounts/payments/return/", {"session_id": session_id})
    account = CardAccount.objects.get(member=member)
    fake_stripe.objects[account.payment_method_id]["customer"] = None  # detached from Stripe's dashboard
    event = {
        "id": "evt_detached",
        "object": "event",
        "type": "payment_method.detached",
        "data": {"object": fake_stripe.objects[account.payment_method_id]},
    }
    assert deliver(client, fake_stripe, event).status_code == 200
    assert not CardAccount.objects.get(member=member).has_card
    assert Notice.objects.filter(kind="card_removed").count() == 1


def test_refund_events_settle_a_pending_refund(client, member_client, member, monthly, fake_stripe):
    from billing import cards
    from tests.factories import ManagerFactory

    session_id = paid_in_checkout(member_client, monthly, fake_stripe)
    member_client.get("/accounts/payments/return/", {"session_id": session_id})
    payment = Payment.objects.get(status=PaymentStatus.SUCCEEDED)
    fake_stripe.refund_status = "pending"
    manager = ManagerFactory(spaces=[monthly.space])
    refund = cards.payment_refund(
        payment=payment, amount=Decimal("30.00"), reason="Geste", by=manager, today=timezone.localdate()
    )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    remote = fake_stripe.objects[refund.refund_id]
    remote["status"] = "succeeded"
    event = {"id": "evt_refund", "object": "event", "type": "refund.updated", "data": {"object": remote}}
    assert deliver(client, fake_stripe, event).status_code == 200
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED


# --- any order, any number of times -----------------------------------------------------------------


def purchase_events(fake, session_id: str) -> list[dict]:
    """The events of one purchase, plus a stale one (the PaymentIntent as it was while processing) and
    one of a type the application does not use."""
    session = fake.objects[session_id]
    intent = fake.objects[session["payment_intent"]]
    stale = json.loads(json.dumps(fake.event_for("payment_intent.succeeded", intent["id"])))
    stale.update(id="evt_stale_processing", type="payment_intent.processing")
    stale["data"]["object"]["status"] = "processing"
    customer = {
        "id": "evt_customer_updated",
        "object": "event",
        "type": "customer.updated",
        "data": {"object": fake.objects[session["customer"]]},
    }
    return [
        stale,
        fake.event_for("payment_intent.succeeded"),
        fake.event_for("checkout.session.completed"),
        customer,
    ]


# The state after one in-order delivery of each event (test_one_in_order_delivery...).
EXPECTED = {
    "pass": PassStatus.ACTIVE,
    "invoice": InvoiceStatus.PAID,
    "payments": [(PaymentStatus.SUCCEEDED, Decimal("300.00"))],
    "card": True,
    "events": 4,
    "notices": 0,
}


@pytest.fixture
def in_order_state(member_client, member, monthly, fake_stripe, client):
    """The state after one delivery of each event, in the order Stripe sent them."""
    session_id = paid_in_checkout(member_client, monthly, fake_stripe)
    for event in purchase_events(fake_stripe, session_id):
        assert deliver(client, fake_stripe, event).status_code == 200
    return state(member)


def test_one_in_order_delivery_activates_the_pass(in_order_state):
    assert in_order_state == EXPECTED


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_every_arrival_order_replayed_three_times_ends_in_the_in_order_state(
    member_client, member, monthly, fake_stripe, client, order
):
    session_id = paid_in_checkout(member_client, monthly, fake_stripe)
    events = purchase_events(fake_stripe, session_id)
    answers = []
    # Each event three times: the whole sequence in this order, three times over.
    for _round in range(3):
        for index in order:
            response = deliver(client, fake_stripe, events[index])
            assert response.status_code == 200
            answers.append(response.json()["received"])
    assert answers.count("duplicate") == 8
    assert state(member) == EXPECTED
