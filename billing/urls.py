from django.urls import path, register_converter

from billing import card_views, invoice_views, views


class InvoiceNumberConverter:
    """Invoice and credit note numbers (LIL-2026-00042, LIL-AV-2026-00003), loosely: letters, digits and
    dashes, at most the 40 characters of Invoice.number. Anything else is a 404 before any query."""

    regex = "[A-Za-z0-9][A-Za-z0-9-]{0,39}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(InvoiceNumberConverter, "invoice_number")

app_name = "billing"
urlpatterns = [
    path("spaces/<slug:slug>/plans/", views.plans, name="plans"),
    path("spaces/<slug:slug>/plans/<int:plan_id>/buy/", views.buy, name="buy"),
    path("accounts/passes/", views.passes, name="passes"),
    path("accounts/passes/<int:pass_id>/renewal/", views.set_auto_renew, name="auto_renew"),
    path("accounts/passes/<int:pass_id>/upgrade/", views.upgrade, name="upgrade"),
    path("accounts/invoices/", invoice_views.invoice_list, name="invoices"),
    path("accounts/invoices/<invoice_number:number>/", invoice_views.invoice_detail, name="invoice"),
    path("accounts/invoices/<invoice_number:number>.pdf", invoice_views.invoice_pdf, name="invoice_pdf"),
    path("accounts/invoices/<invoice_number:number>/pay/", card_views.invoice_pay, name="invoice_pay"),
    path("accounts/payments/return/", card_views.checkout_return, name="checkout_return"),
    path("accounts/card/", card_views.card, name="card"),
    path("stripe/webhook/", card_views.stripe_webhook, name="stripe_webhook"),
]
