"""Camille buys a monthly pass by card in a real Chromium, against the fake Stripe server: the purchase
form sends her to the (fake) hosted Checkout page, her first card is declined there, the second one
goes through, and Stripe sends her back to her passes, where the pass is active and her card saved.
The hosted page is the fake server's own minimal page (tests/stripe_fake/server.py)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import CardAccount, Invoice, InvoiceStatus, Pass, PassStatus, Payment, PaymentStatus
from tests.browser.test_billing_flow import CONSENT, camille, plans, sign_in_in_english, space  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buy_a_monthly_pass_by_card_through_checkout(page, live_server, space, plans, camille, fake_stripe):  # noqa: F811
    sign_in_in_english(page, "camille@example.com")
    page.goto("/spaces/canal/plans/")
    page.locator("li.plan[data-kind=monthly]").get_by_role("link", name="Buy").click()
    expect(page.get_by_text("You pay by card on the next page")).to_be_visible()
    page.get_by_label(CONSENT).check()
    page.get_by_role("button", name="Pay €300.00 by card").click()

    # Stripe's hosted page (the fake's), on another origin, in the member's language.
    expect(page).to_have_url(re.compile(re.escape(fake_stripe.url) + r"/checkout/cs_test_"))
    expect(page.get_by_role("heading", name="Pay 300.00 EUR")).to_be_visible()
    assert Pass.objects.get(member=camille).status == PassStatus.PENDING
    page.get_by_label("Card number").select_option("4000000000000002")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    page.get_by_label("Card number").select_option("4242424242424242")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/accounts/passes/$"))
    invoice = Invoice.objects.get(member=camille)
    expect(
        page.get_by_text(f"Payment received, thank you. Invoice {invoice.number} is paid.")
    ).to_be_visible()
    expect(page.locator("li.pass", has_text="Mensuel")).to_contain_text("Active")
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(invoice=invoice).amount == Decimal("300.00")

    page.get_by_role("link", name="My card").click()
    expect(page.locator(".saved-card")).to_have_text("Visa ending in 4242, expires 12/2030")
    assert CardAccount.objects.get(member=camille).last4 == "4242"
