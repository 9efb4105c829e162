"""Card payments under concurrency: two deliveries of one Stripe event at the same moment take effect
once (with a control where the event-id guard is bypassed and the double effect is seen), and two
renewal jobs at once charge each period once."""

import time
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client

from billing import cards, services
from billing.models import CardAccount, Payment, PaymentStatus, WebhookEvent
from tests.concurrency.conftest import run_concurrently
from tests.factories import PlanFactory, SpaceFactory, UserFactory
from tests.stripe_fake.plugin import deliver

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")
RENEWAL_DAY = datetime(2026, 4, 1, 10, tzinfo=PARIS)


def with_card(user, fake) -> None:
    customer_id = cards.customer_for(user=user)
    method = fake.card(customer_id)
    CardAccount.objects.filter(member=user).update(payment_method_id=method["id"], brand="visa", last4="4242")


@pytest.fixture
def slow_apply(monkeypatch):
    """Counts how often the event's effect is applied, and holds each application open long enough
    for the other delivery to arrive meanwhile."""
    applied = []
    name = "payment_intent.succeeded"
    fetch, apply = cards.HANDLERS[name]

    def slow(fetched):
        applied.append(fetched["intent"].id)
        time.sleep(0.3)
        apply(fetched)

    monkeypatch.setitem(cards.HANDLERS, name, (fetch, slow))
    return applied


@pytest.fixture
def succeeded_event(fake_stripe):
    space = SpaceFactory()
    member = UserFactory(member__display_name="Camille")
    plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("100"))
    pass_obj = services.pass_purchase(
        member=member, plan=plan, start=date(2026, 3, 2), now=datetime(2026, 3, 2, 9, tzinfo=PARIS)
    )
    with_card(member, fake_stripe)
    invoice = pass_obj.periods.get().invoice
    account = CardAccount.objects.get(member=member)
    cards.edge.charge_off_session(
        customer_id=account.customer_id,
        payment_method_id=account.payment_method_id,
        amount=invoice.gross,
        currency="EUR",
        key="purchase-by-card-test",
        metadata={"key": f"purchase:{pass_obj.pk}"},
    )
    Payment.objects.filter(invoice=invoice).update(gateway="stripe", method="card")
    return fake_stripe.event_for("payment_intent.succeeded")


def deliver_twice_at_once(fake, event) -> list[int]:
    statuses = []

    def post(_index):
        statuses.append(deliver(Client(), fake, event).status_code)

    assert run_concurrently(post, 2) == []
    return statuses


def test_two_simultaneous_deliveries_of_one_event_have_one_effect(succeeded_event, fake_stripe, slow_apply):
    assert deliver_twice_at_once(fake_stripe, succeeded_event) == [200, 200]
    assert len(slow_apply) == 1
    assert WebhookEvent.objects.filter(event_id=succeeded_event["id"]).count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_control_without_the_event_id_guard_both_deliveries_apply(
    succeeded_event, fake_stripe, slow_apply, monkeypatch
):
    """The guard bypassed: the early check sees nothing and the insert no longer clashes."""

    class Unguarded:
        objects = type(
            "M",
            (),
            {
                "filter": staticmethod(lambda **kw: WebhookEvent.objects.none()),
                "create": staticmethod(lambda **kw: None),
            },
        )

    monkeypatch.setattr(cards, "WebhookEvent", Unguarded)
    assert deliver_twice_at_once(fake_stripe, succeeded_event) == [200, 200]
    assert len(slow_apply) == 2  # the race the guard prevents


@pytest.fixture
def passes_with_cards(fake_stripe):
    space = SpaceFactory(invoice_prefix="CRD")
    plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("200"))
    members = [UserFactory(member__display_name=f"Membre {n}") for n in range(6)]
    passes = []
    for member in members:
        with_card(member, fake_stripe)
        with transaction.atomic():
            passes.append(
                services.pass_purchase(
                    member=member,
                    plan=plan,
                    start=date(2026, 3, 2),
                    now=datetime(2026, 3, 2, 9, tzinfo=PARIS),
                    gateway=services.default_gateway(),
                )
            )
    fake_stripe.requests.clear()
    return passes


def test_two_renewal_jobs_at_once_charge_each_period_once(passes_with_cards, fake_stripe):
    def renew(_index):
        services.renew_due_passes(now=RENEWAL_DAY, chunk_size=2)

    assert run_concurrently(renew, 2) == []
    renewal_keys = {f"renewal:{p.pk}:2026-04-02" for p in passes_with_cards}
    intents = [i for i in fake_stripe.of_kind("payment_intent") if i["metadata"].get("key") in renewal_keys]
    assert sorted(i["metadata"]["key"] for i in intents) == sorted(renewal_keys)  # one charge per period
    for key in renewal_keys:
        payment = Payment.objects.get(idempotency_key=key)
        assert payment.status == PaymentStatus.SUCCEEDED
        assert payment.intent_id
    assert Payment.objects.filter(idempotency_key__startswith="renewal:").count() == len(renewal_keys)
