"""The member's invoices: the list, the printable page and the PDF download.

An invoice is shown to its member and to the managers of the space that issued it. Anyone else gets a
404, never a 403, so that a guessed number does not reveal that the invoice exists.
"""

from dataclasses import dataclass
from decimal import Decimal

from csp.constants import NONCE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from billing import documents, services
from billing.models import DocumentKind, Invoice, InvoiceStatus, Payment, PaymentStatus
from members import selectors as member_selectors

INVOICES_PER_PAGE = 20


def _may_view(user, invoice: Invoice) -> bool:
    if invoice.member_id == user.pk:
        return True
    if not (user.is_active and (user.is_staff or user.is_superuser)):
        return False
    space_ids = member_selectors.managed_space_ids(user=user)
    return space_ids is None or invoice.space_id in space_ids


def _invoice_for(request, number: str) -> Invoice:
    invoice = Invoice.objects.select_related("space", "corrects").filter(number=number).first()
    if invoice is None or not _may_view(request.user, invoice):
        raise Http404
    return invoice


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    total: str
    due: str  # empty when nothing is owed (paid invoices, credit notes)


@login_required
@require_safe
@never_cache
def invoice_list(request):
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"), status=PaymentStatus.SUCCEEDED)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    credited = (
        Invoice.objects.filter(corrects=OuterRef("pk"), kind=DocumentKind.CREDIT_NOTE)
        .order_by()
        .values("corrects")
        .annotate(total=Sum("gross"))
        .values("total")
    )
    money = DecimalField(max_digits=12, decimal_places=2)
    invoices = (
        Invoice.objects.filter(member=request.user)
        .annotate(paid=Coalesce(Subquery(paid, output_field=money), Value(Decimal(0)), output_field=money))
        .annotate(
            credit_total=Coalesce(
                Subquery(credited, output_field=money), Value(Decimal(0)), output_field=money
            )
        )
        .order_by("-issue_date", "-created_at", "-pk")
    )
    page = Paginator(invoices, INVOICES_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for invoice in page:
        owed = not invoice.is_credit_note and invoice.status == InvoiceStatus.ISSUED
        # credit_total is negative: what partial credit notes took off the invoice.
        due = max(invoice.gross + invoice.credit_total - invoice.paid, Decimal(0)) if owed else Decimal(0)
        rows.append(
            InvoiceRow(
                invoice=invoice,
                total=documents.format_money(invoice.gross, invoice.currency),
                due=documents.format_money(due, invoice.currency) if due else "",
            )
        )
    return render(request, "billing/invoice_list.html", {"page": page, "rows": rows})


# The page's print stylesheet and its print button are inline: allowed by this response's nonce only.
@login_required
@require_safe
@never_cache
@csp_update({"style-src": [NONCE], "script-src": [NONCE]})
def invoice_detail(request, number: str):
    invoice = _invoice_for(request, number)
    balance = services.invoice_balance(invoice)
    document = documents.invoice_document(invoice=invoice, paid=balance.paid, credited=balance.credited)
    # The member may pay what is still due by card, when card payments are on.
    payable = (
        settings.STRIPE_ENABLED
        and invoice.member_id == request.user.pk
        and invoice.kind == DocumentKind.INVOICE
        and invoice.status == InvoiceStatus.ISSUED
        and balance.due > 0
    )
    return render(
        request, "billing/invoice.html", {"invoice": invoice, "document": document, "payable": payable}
    )


@login_required
@require_safe
@never_cache
def invoice_pdf(request, number: str):
    invoice = _invoice_for(request, number)
    balance = services.invoice_balance(invoice)
    document = documents.invoice_document(invoice=invoice, paid=balance.paid, credited=balance.credited)
    response = HttpResponse(documents.invoice_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{invoice.number}.pdf"
    )
    return response
