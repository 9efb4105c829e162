"""Member pages of card payments (paying an invoice in Stripe Checkout, the page Stripe sends them back
to, the saved card) and Stripe's webhook endpoint. The views are thin: billing.cards does the work."""

import json
import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import cards, services
from billing import stripe_gateway as edge
from billing.models import (
    USABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Pass,
    PaymentStatus,
)

logger = logging.getLogger(__name__)


def allow_checkout(response):
    """Browsers check a form's redirect against the CSP form-action of the page the form is on: the
    pages whose forms lead to Stripe Checkout, and only those, allow its origin."""
    if edge.enabled():
        response._csp_update = {"form-action": [settings.STRIPE_CHECKOUT_ORIGIN]}
    return response


def to_checkout(url: str):
    """A 303 to Stripe's hosted page (a URL Stripe's API gave us)."""
    response = redirect(url)
    response.status_code = 303
    return allow_checkout(response)


def _return_url(request) -> str:
    return request.build_absolute_uri(reverse("billing:checkout_return"))


def start_checkout(request, invoice: Invoice):
    """Sends the member to Checkout for `invoice`, or back to its page with the reason it cannot."""
    return_url = _return_url(request)
    cancel_url = request.build_absolute_uri(reverse("billing:invoice_pay", args=[invoice.number]))
    try:
        url = cards.checkout_start(
            user=request.user, invoice=invoice, return_url=return_url, cancel_url=cancel_url
        )
    except services.BillingError as error:
        messages.error(request, error.message)
        return redirect("billing:invoice", number=invoice.number)
    return to_checkout(url)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def invoice_pay(request, number: str):
    """Pay what is due on one of my invoices by card (also the link of the "confirm your payment"
    e-mail: the bank asked for the member to be present)."""
    invoice = Invoice.objects.select_related("space").filter(number=number, member=request.user).first()
    if invoice is None or invoice.kind != DocumentKind.INVOICE:
        raise Http404
    if not edge.enabled():
        messages.error(request, services.BillingError("cards_disabled").message)
        return redirect("billing:invoice", number=invoice.number)
    due = services.invoice_balance(invoice).due if invoice.status == InvoiceStatus.ISSUED else 0
    if request.method == "POST":
        return start_checkout(request, invoice)
    return allow_checkout(render(request, "billing/invoice_pay.html", {"invoice": invoice, "due": due}))


@login_required
@require_GET
@never_cache
def checkout_return(request):
    """Where Stripe sends the member back. Nothing in the query string is trusted: the session must
    be one of ours for this member, and its state is read from Stripe (billing.cards.checkout_return)."""
    try:
        outcome = cards.checkout_return(user=request.user, session_id=request.GET.get("session_id", ""))
    except services.BillingError as error:
        status = 503 if error.code == "stripe_unavailable" else 404
        return render(request, "billing/checkout_problem.html", {"message": error.message}, status=status)
    if outcome.mode == "setup":
        if outcome.status == "saved":
            messages.success(request, _("Your card is saved: renewals will be charged to it."))
        else:
            messages.warning(request, _("Your card was not saved."))
        return redirect("billing:card")
    invoice = outcome.invoice
    if outcome.status == PaymentStatus.SUCCEEDED:
        messages.success(
            request,
            _("Payment received, thank you. Invoice %(number)s is paid.") % {"number": invoice.number},
        )
        if Pass.objects.filter(periods__invoice=invoice).exists():
            return redirect("billing:passes")
        return redirect("billing:invoice", number=invoice.number)
    if outcome.status == PaymentStatus.FAILED:
        messages.error(request, _("The payment did not go through: nothing was charged. You can try again."))
    else:
        messages.info(
            request, _("Your payment is being processed: the invoice shows as paid once it is confirmed.")
        )
    return redirect("billing:invoice", number=invoice.number)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def card(request):
    """The card on file: see it, replace it (a SetupIntent in Checkout), remove it."""
    if not edge.enabled():
        raise Http404
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "replace":
            return_url = _return_url(request)
            try:
                url = cards.card_setup_start(
                    user=request.user,
                    return_url=return_url,
                    cancel_url=request.build_absolute_uri(reverse("billing:card")),
                )
            except services.BillingError as error:
                messages.error(request, error.message)
                return redirect("billing:card")
            return to_checkout(url)
        if action == "remove":
            try:
                cards.card_remove(user=request.user)
            except services.BillingError as error:
                messages.error(request, error.message)
            except stripe.StripeError:
                messages.error(request, services.BillingError("stripe_unavailable").message)
            else:
                messages.success(request, _("Your card is removed."))
            return redirect("billing:card")
        return HttpResponseBadRequest(_("Unknown action."))
    renewing = Pass.objects.filter(member=request.user, auto_renew=True, status__in=USABLE_STATUSES)
    return allow_checkout(
        render(
            request,
            "billing/card.html",
            {"account": cards.saved_card(member_id=request.user.pk), "renewing": renewing.exists()},
        )
    )


@csrf_exempt  # Stripe cannot send a CSRF token: the signature, checked first, proves the sender.
@require_POST
def stripe_webhook(request):
    """Stripe's events. A missing, wrong or stale signature is a 400 and nothing is written; a
    duplicate or an unknown type is acknowledged (200); a transient error is a 5xx so Stripe retries."""
    if not edge.enabled():
        raise Http404
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return HttpResponseBadRequest("missing signature")
    try:
        event = edge.construct_event(request.body, signature)
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponseBadRequest("invalid signature")
    try:
        event_id, event_type, obj = str(event["id"]), str(event["type"]), dict(event["data"]["object"])
    except (KeyError, TypeError, ValueError):
        return HttpResponseBadRequest("malformed event")
    if not event_id or not isinstance(obj.get("id"), str):
        return HttpResponseBadRequest("malformed event")
    try:
        result = cards.event_handle(event_id=event_id, event_type=event_type, obj=obj)
    except (stripe.StripeError, DatabaseError):
        logger.exception("stripe event not applied, Stripe will retry", extra={"event": event.get("id")})
        return HttpResponse(json.dumps({"retry": True}), status=503, content_type="application/json")
    return HttpResponse(json.dumps({"received": result}), content_type="application/json")
