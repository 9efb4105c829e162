"""The billing admin a space manager uses: plans and their price ladder, invoices (read-only, with the
payments recorded against them and the credit notes issued on them), passes, payments and the notices
sent about passes.

Like bookings.admin, every page is scoped to the spaces the manager runs (members.selectors.
managed_space_ids; superusers see every space). Writes go through billing.services: an issued invoice is
never saved again, a payment is recorded by payment_record, a credit note by credit_note_issue or
credit_note_partial, auto-renewal is switched by pass_set_auto_renew, a pass is suspended, restored or
extended by pass_suspend, pass_restore and pass_extend. Each of them writes the audit log (members.
AuditEntry) in its own transaction; plan and tier changes are recorded here, in the admin's.
"""

from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing import cards, pricing, services
from billing.forms import PriceTierFormSet, RecordPaymentForm, pricing_problem_message
from billing.models import (
    RENEWING_KINDS,
    USABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Notice,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
    PriceTier,
)
from billing.money import CURRENCY_EXPONENTS
from members import services as member_services
from spaces import localtime
from spaces.admin_scoping import space_ids_for
from spaces.models import Space

CURRENCY_SYMBOLS = {"EUR": "€"}
EMPTY = "—"


def _money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return EMPTY
    figures = number_format(amount, CURRENCY_EXPONENTS.get(currency, 2), force_grouping=True)
    return f"{figures} {CURRENCY_SYMBOLS.get(currency, currency)}"


def _short_date(day) -> str:
    return date_format(day, "SHORT_DATE_FORMAT") if day else EMPTY


def _space_ids(request) -> set[int] | None:
    """The spaces the user runs (None: all of them), read once per request for every admin."""
    return space_ids_for(request)


def _runs_a_space(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or bool(_space_ids(request)))


class SpaceScopedAdmin(admin.ModelAdmin):
    """Rows of the spaces the manager runs only; staff who run no space do not see the module."""

    space_lookup = "space"  # the path from the model to the Space it belongs to
    list_per_page = 50

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        space_ids = _space_ids(request)
        return queryset if space_ids is None else queryset.filter(**{f"{self.space_lookup}__in": space_ids})

    def has_module_permission(self, request):
        return _runs_a_space(request)

    def has_view_permission(self, request, obj=None):
        return _runs_a_space(request)


class ReadOnlyAdmin(SpaceScopedAdmin):
    """Records of what happened (documents issued, money received, e-mails sent): never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return _runs_a_space(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _space_filter(lookup: str):
    # Only the spaces that appear in the manager's rows, never the names of other spaces.
    return (lookup, admin.RelatedOnlyFieldListFilter)


# --- plans ------------------------------------------------------------------------------------------

_PERIOD_LABELS = {
    # (one step covering every period, a closed run, one period, from a period on)
    PlanKind.MONTHLY: (
        _("Every month"),
        _("Months %(first)s to %(last)s"),
        _("Month %(first)s"),
        _("From month %(first)s"),
    ),
    PlanKind.ANNUAL: (
        _("Every year"),
        _("Years %(first)s to %(last)s"),
        _("Year %(first)s"),
        _("From year %(first)s"),
    ),
}
_DEFAULT_PERIOD_LABELS = (
    _("Single price"),
    _("Periods %(first)s to %(last)s"),
    _("Period %(first)s"),
    _("From period %(first)s"),
)


def _step_label(kind: str, step: pricing.LadderStep) -> str:
    every, run, one, onwards = _PERIOD_LABELS.get(kind, _DEFAULT_PERIOD_LABELS)
    params = {"first": step.first_period, "last": step.last_period}
    if step.last_period is None:
        return str(every) if step.first_period == 1 else str(onwards) % params
    return str(one) % params if step.first_period == step.last_period else str(run) % params


def ladder_context(terms: pricing.PlanTerms | None, space: Space | None) -> dict:
    """What the price-ladder box shows for these terms: a row per step, or what is wrong."""
    if terms is None:
        return {"problems": [gettext("Enter a valid price to see the ladder.")]}
    if space is None:
        return {"problems": [gettext("Choose a space to see the prices including its VAT.")]}
    problems = pricing.validate_terms(terms)
    if problems:
        return {"problems": [pricing_problem_message(problem) for problem in problems]}
    currency = terms.currency
    rows = [
        {
            "periods": _step_label(terms.kind, step),
            "net": _money(step.unit_price, currency),
            "gross": _money(step.gross, currency),
            "per_day_net": _money(step.per_day_net, currency),
            "per_day_gross": _money(step.per_day_gross, currency),
        }
        for step in pricing.ladder(terms, vat_rate=services.vat_fraction(space))
    ]
    return {"rows": rows, "days": terms.days_per_period, "vat_rate": space.vat_rate}


# The fields of a plan its price ladder depends on.
LADDER_FIELDS = {"space", "kind", "unit_price", "nominal_days"}
# What the audit log keeps of a plan change (with its tiers).
AUDITED_PLAN_FIELDS = [
    "space_id",
    "name",
    "kind",
    "unit_price",
    "nominal_days",
    "desk_access",
    "desk_days",
    "validity_months",
    "room_hours",
    "network_access",
    "is_active",
]


def _plan_snapshot(plan: Plan) -> dict:
    snapshot = {}
    for name in AUDITED_PLAN_FIELDS:
        value = getattr(plan, name)
        # Quantized: a price typed "260" is the 260.00 stored, not a change.
        snapshot[name] = str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value
    tiers = PriceTier.objects.filter(plan=plan).order_by("first_period")
    snapshot["tiers"] = [[tier.first_period, str(tier.unit_price)] for tier in tiers]
    return snapshot


class PriceTierInline(admin.TabularInline):
    model = PriceTier
    formset = PriceTierFormSet
    fields = ["first_period", "unit_price"]
    extra = 0
    verbose_name = _("price tier")
    verbose_name_plural = _("price tiers")

    # A manager who may edit the plan may edit its tiers (no per-model permissions for managers).
    def has_view_permission(self, request, obj=None):
        return _runs_a_space(request)

    def has_add_permission(self, request, obj=None):
        return _runs_a_space(request)

    def has_change_permission(self, request, obj=None):
        return _runs_a_space(request)

    def has_delete_permission(self, request, obj=None):
        return _runs_a_space(request)


@admin.register(Plan)
class PlanAdmin(SpaceScopedAdmin):
    list_display = ["name", "space", "kind", "unit_price", "per_day", "is_active"]
    list_filter = [_space_filter("space"), "kind", "is_active"]
    list_select_related = ["space"]
    search_fields = ["name", "description"]
    ordering = ["space__name", "position", "unit_price"]
    inlines = [PriceTierInline]
    fieldsets = [
        (None, {"fields": ["space", "name", "kind", "description", "position", "is_active"]}),
        (
            _("Price"),
            {
                "fields": ["unit_price", "nominal_days"],
                "description": _(
                    "Prices are entered excluding VAT. The tiers below lower the price from the n-th "
                    "consecutive period of a pass on. A change applies to the periods sold after it: new "
                    "passes, and renewals, which take the tier of their next period. Periods already sold "
                    "keep the price they were sold at (each pass and invoice keeps a snapshot of it)."
                ),
            },
        ),
        (
            _("What it includes"),
            {"fields": ["desk_access", "desk_days", "validity_months", "room_hours", "network_access"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def has_add_permission(self, request):
        return _runs_a_space(request)

    def has_change_permission(self, request, obj=None):
        return _runs_a_space(request)

    def has_delete_permission(self, request, obj=None):
        # A plan is taken off sale, not deleted; a sold one cannot be (its passes protect it).
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        # What a sold plan is (its space and kind) is part of its passes' history.
        if obj is not None and obj.passes.exists():
            return ["space", "kind"]
        return []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "space":
            space_ids = _space_ids(request)
            if space_ids is not None:
                kwargs["queryset"] = Space.objects.filter(pk__in=space_ids)
                if len(space_ids) == 1:
                    kwargs["initial"] = next(iter(space_ids))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # The plan as stored before this change, for the audit entry written once its tiers are saved.
        request._plan_before = _plan_snapshot(Plan.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        plan = form.instance
        before, after = getattr(request, "_plan_before", None), _plan_snapshot(plan)
        if before == after:
            return
        # Inside the admin's transaction (changeform_view is atomic): saved and logged together.
        member_services.audit_record(
            actor=request.user,
            action="plan.change" if change else "plan.create",
            target=plan,
            space_id=plan.space_id,
            before={key: value for key, value in (before or {}).items() if after.get(key) != value} or None,
            after={key: value for key, value in after.items() if not before or before.get(key) != value},
        )

    @admin.display(description=_("per day excl. VAT"))
    def per_day(self, plan):
        terms = plan.terms()
        if pricing.validate_terms(terms):
            return EMPTY
        price = pricing.quote(terms, vat_rate=services.vat_fraction(plan.space))
        return _money(price.per_day_net, terms.currency)

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_ladder_view)
        return [
            path("preview-ladder/", view, name="billing_plan_preview_ladder"),
            path("<path:object_id>/preview-ladder/", view, name="billing_plan_preview_ladder"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        args = [obj.pk] if obj is not None else []
        context["ladder_preview_url"] = reverse("admin:billing_plan_preview_ladder", args=args)
        if obj is not None:
            context["ladder"] = ladder_context(obj.terms(), obj.space)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_ladder_view(self, request, object_id=None):
        """The ladder of the prices being edited, before they are saved (the change form posts here)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = None
        if object_id is not None:
            obj = self.get_object(request, object_id)
            if obj is None:
                raise Http404
        allowed = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        if not allowed:
            raise PermissionDenied
        form = self.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
        tiers_formset = PriceTierInline(self.model, self.admin_site).get_formset(request, obj)
        formset = tiers_formset(
            request.POST, instance=form.instance, prefix=tiers_formset.get_default_prefix()
        )
        form.is_valid()  # sets the valid fields (price, kind, space...) on form.instance
        # Only errors on what prices the plan keep the ladder from showing; the others wait for "save".
        blocking = {name: errors for name, errors in form.errors.items() if name in LADDER_FIELDS}
        if formset.is_valid() and not blocking:
            plan = form.instance
            context = ladder_context(formset.plan_terms(), plan.space if plan.space_id else None)
        else:
            problems = [f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in blocking.items()]
            problems += list(formset.non_form_errors())
            problems += [error for row in formset.errors for errors in row.values() for error in errors]
            context = {"problems": problems}
        return TemplateResponse(
            request, "admin/billing/plan/_ladder.html", {"ladder": context, "preview": True}
        )


# --- invoices ---------------------------------------------------------------------------------------


def _today_at(space: Space):
    return localtime.local_date(timezone.now(), space.tz)


def _overdue_q() -> Q:
    """Invoices still unpaid after their due date, "today" taken in each issuing space's zone."""
    now = timezone.now()
    zones = Space.objects.order_by().values_list("time_zone", flat=True).distinct()
    late = Q(pk__in=[])
    for zone in zones:
        today = localtime.local_date(now, ZoneInfo(zone))
        late |= Q(space__time_zone=zone, due_date__lt=today)
    return Q(kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED) & late


def _is_payable(invoice: Invoice) -> bool:
    return invoice.kind == DocumentKind.INVOICE and invoice.status == InvoiceStatus.ISSUED


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_overdue_q())
        if self.value() == "no":
            return queryset.exclude(_overdue_q())
        return queryset


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["description", "quantity", "unit_price", "vat_rate", "net", "vat", "gross"]
    readonly_fields = fields
    verbose_name = _("line")
    verbose_name_plural = _("lines")


class InvoicePaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["amount", "method", "status", "received_on", "reference", "recorded_by", "created_at"]
    readonly_fields = fields
    verbose_name_plural = _("payments")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Issued invoices and credit notes are immutable: this admin only reads them (Invoice.save() refuses
    an existing row); payments are recorded through the "record a payment" page."""

    list_display = [
        "number",
        "kind",
        "member",
        "space",
        "issue_date",
        "due_date",
        "gross",
        "paid",
        "status",
        "overdue",
        "record_payment_link",
    ]
    list_filter = [_space_filter("space"), "status", "kind", OverdueFilter]
    list_select_related = ["space", "member"]
    search_fields = ["number", "member__email", "buyer__name"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, InvoicePaymentInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "kind",
                    "status",
                    "space",
                    "member",
                    "corrects",
                    "credit_notes",
                    "issue_date",
                    "due_date",
                    "overdue",
                    "service_start",
                    "service_end",
                ]
            },
        ),
        (
            _("Amounts"),
            {"fields": ["currency", "net", "vat", "gross", "paid", "credited", "still_due", "to_refund"]},
        ),
        (_("Buyer"), {"fields": ["buyer_details"]}),
        (_("Seller"), {"fields": ["seller_details", "vat_note"]}),
        (_("Document"), {"fields": ["documents", "language", "content_hash", "created_at"]}),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        paid = (
            Payment.objects.filter(invoice=OuterRef("pk"), status=PaymentStatus.SUCCEEDED)
            .values("invoice")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        # Credit notes have negative amounts: what they take off the invoice is minus their sum.
        credited = (
            Invoice.objects.filter(corrects=OuterRef("pk"), kind=DocumentKind.CREDIT_NOTE)
            .order_by()
            .values("corrects")
            .annotate(total=Sum("gross"))
            .values("total")
        )
        money = DecimalField(max_digits=12, decimal_places=2)
        return (
            super()
            .get_queryset(request)
            .annotate(
                _paid=Coalesce(Subquery(paid, output_field=money), Value(Decimal("0")), output_field=money),
                _credit_total=Coalesce(
                    Subquery(credited, output_field=money), Value(Decimal("0")), output_field=money
                ),
            )
        )

    @staticmethod
    def _balance(invoice) -> services.Balance:
        return services.Balance(gross=invoice.gross, paid=invoice._paid, credited=-invoice._credit_total)

    @admin.display(description=_("amount paid"), ordering="_paid")
    def paid(self, invoice):
        return _money(invoice._paid, invoice.currency)

    @admin.display(description=_("credited"))
    def credited(self, invoice):
        if invoice.kind != DocumentKind.INVOICE:
            return EMPTY
        return _money(self._balance(invoice).credited, invoice.currency)

    @admin.display(description=_("still due"))
    def still_due(self, invoice):
        # Nothing is due on a credit note, nor on an invoice a credit note cancelled.
        if invoice.kind != DocumentKind.INVOICE or invoice.status == InvoiceStatus.CREDITED:
            return EMPTY
        return _money(self._balance(invoice).due, invoice.currency)

    @admin.display(description=_("to refund to the member"))
    def to_refund(self, invoice):
        # Credited after it was paid: the member is owed this (refunded by transfer, or by the card
        # gateway); nothing more is stored about the refund itself.
        if invoice.kind != DocumentKind.INVOICE:
            return EMPTY
        refund = self._balance(invoice).to_refund
        if not refund:
            return EMPTY
        return format_html("<strong>{}</strong>", _money(refund, invoice.currency))

    @admin.display(description=_("overdue"), ordering="due_date")
    def overdue(self, invoice):
        if not _is_payable(invoice):
            return ""
        days = (_today_at(invoice.space) - invoice.due_date).days
        if days <= 0:
            return ""
        late = ngettext("%(days)d day late", "%(days)d days late", days) % {"days": days}
        return format_html("<strong>{}</strong>", late)

    @admin.display(description=_("payment"))
    def record_payment_link(self, invoice):
        if not _is_payable(invoice):
            return ""
        return format_html('<a href="{}">{}</a>', self._record_payment_url(invoice), _("Record a payment"))

    @admin.display(description=_("credit notes"))
    def credit_notes(self, invoice):
        notes = list(invoice.credit_notes.order_by("sequence").values_list("pk", "number"))
        if not notes:
            return EMPTY
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:billing_invoice_change", args=[pk]), number) for pk, number in notes),
        )

    @admin.display(description=_("buyer"))
    def buyer_details(self, invoice):
        return self._details(
            invoice.buyer, ["name", "company", "address", "country", "vat_number", "registration", "email"]
        )

    @admin.display(description=_("seller"))
    def seller_details(self, invoice):
        return self._details(
            invoice.seller,
            ["legal_name", "legal_form", "address", "country", "registration_number", "vat_number"],
        )

    @staticmethod
    def _details(snapshot: dict, keys: list[str]):
        lines = [line for key in keys for line in str(snapshot.get(key) or "").splitlines() if line.strip()]
        return linebreaksbr("\n".join(lines)) if lines else EMPTY  # escaped, then <br> between lines

    @admin.display(description=_("printable invoice"))
    def documents(self, invoice):
        links = []
        for url_name, label in (("billing:invoice", _("View / print")), ("billing:invoice_pdf", _("PDF"))):
            try:
                links.append((reverse(url_name, args=[invoice.number]), label))
            except NoReverseMatch:
                continue  # the page is not installed in this deployment
        if not links:
            return gettext("Not available yet.")
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def _record_payment_url(self, invoice) -> str:
        return reverse("admin:billing_invoice_record_payment", args=[invoice.pk])

    def get_urls(self):
        return [
            path(
                "<path:object_id>/payment/",
                self.admin_site.admin_view(self.record_payment_view),
                name="billing_invoice_record_payment",
            ),
            path(
                "<path:object_id>/credit-note/",
                self.admin_site.admin_view(self.credit_note_view),
                name="billing_invoice_credit_note",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and _is_payable(obj):
            context["record_payment_url"] = self._record_payment_url(obj)
        if obj is not None and obj.kind == DocumentKind.INVOICE and self._balance(obj).creditable:
            context["credit_note_url"] = reverse("admin:billing_invoice_credit_note", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def record_payment_view(self, request, object_id):
        """Money received by transfer, cash, cheque or card at the desk, against one invoice."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Scoped: an invoice of a space the manager does not run is not found.
        invoice = self.get_object(request, unquote(object_id))
        if invoice is None:
            raise Http404
        change_url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        if not _is_payable(invoice):
            if invoice.kind == DocumentKind.CREDIT_NOTE:
                message = gettext("A credit note is not paid: record payments against invoices.")
            elif invoice.status == InvoiceStatus.CREDITED:
                message = gettext("This invoice was cancelled by a credit note: nothing is due on it.")
            else:
                message = gettext("This invoice is already paid.")
            self.message_user(request, message, messages.WARNING)
            return redirect(change_url)
        due = self._balance(invoice).due
        form = RecordPaymentForm(request.POST or None, due=due, today=_today_at(invoice.space))
        if request.method == "POST" and form.is_valid():
            try:
                payment = services.payment_record(invoice=invoice, by=request.user, **form.cleaned_data)
            except services.BillingError as error:
                form.add_error("amount" if error.code == "invalid_amount" else None, error.message)
            else:
                rest = services.invoice_balance(invoice).due
                if Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.PAID).exists():
                    message = gettext("%(amount)s recorded on %(number)s: the invoice is paid.")
                else:
                    message = gettext("%(amount)s recorded on %(number)s; %(rest)s is still due.")
                params = {
                    "amount": _money(payment.amount, invoice.currency),
                    "number": invoice.number,
                    "rest": _money(rest, invoice.currency),
                }
                self.message_user(request, message % params, messages.SUCCESS)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a payment"),
            "subtitle": invoice.number,
            "opts": self.opts,
            "original": invoice,
            "invoice": invoice,
            "form": form,
            "gross": _money(invoice.gross, invoice.currency),
            "paid": _money(invoice._paid, invoice.currency),
            "due": _money(due, invoice.currency),
            "change_url": change_url,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/billing/invoice/record_payment.html", context)

    def credit_note_view(self, request, object_id):
        """A credit note on one invoice: the whole of it (its lines, negated) or part of it (one line at
        its VAT rate), with a reason the member reads. The member is told by e-mail."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Scoped: an invoice of a space the manager does not run is not found.
        invoice = self.get_object(request, unquote(object_id))
        if invoice is None:
            raise Http404
        change_url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        balance = self._balance(invoice)
        if invoice.kind != DocumentKind.INVOICE:
            self.message_user(request, gettext("A credit note is not credited again."), messages.WARNING)
            return redirect(change_url)
        if not balance.creditable:
            self.message_user(request, gettext("This invoice is already fully credited."), messages.WARNING)
            return redirect(change_url)
        single_rate = invoice.lines.values("vat_rate").distinct().count() == 1
        form = CreditNoteForm(
            request.POST or None,
            balance=balance,
            currency=invoice.currency,
            full_allowed=not balance.credited,
            partial_allowed=single_rate,
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            today = _today_at(invoice.space)
            try:
                if data["scope"] == CreditNoteForm.FULL:
                    note = services.credit_note_issue(
                        invoice=invoice, today=today, reason=data["reason"], by=request.user
                    )
                else:
                    note = services.credit_note_partial(
                        invoice=invoice,
                        amount_gross=data["amount"],
                        reason=data["reason"],
                        today=today,
                        by=request.user,
                        expected_credited=data["credited_before"],
                    )
            except services.BillingError as error:
                on_amount = error.code in ("credit_too_large", "credit_inexact")
                form.add_error("amount" if on_amount else None, error.message)
            else:
                after = services.invoice_balance(invoice)
                params = {
                    "number": note.number,
                    "amount": _money(-note.gross, invoice.currency),
                    "invoice": invoice.number,
                    "refund": _money(after.to_refund, invoice.currency),
                }
                message = gettext(
                    "Credit note %(number)s issued for %(amount)s on %(invoice)s; "
                    "the member is told by e-mail."
                )
                self.message_user(request, message % params, messages.SUCCESS)
                if after.to_refund:
                    refund = gettext("%(refund)s was paid and is now to be refunded to the member.")
                    self.message_user(request, refund % params, messages.WARNING)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue a credit note"),
            "subtitle": invoice.number,
            "opts": self.opts,
            "original": invoice,
            "invoice": invoice,
            "form": form,
            "gross": _money(invoice.gross, invoice.currency),
            "paid": _money(balance.paid, invoice.currency),
            "credited": _money(balance.credited, invoice.currency),
            "creditable": _money(balance.creditable, invoice.currency),
            "single_rate": single_rate,
            "lines": invoice.lines.order_by("position"),
            "change_url": change_url,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/billing/invoice/credit_note.html", context)


class CreditNoteForm(forms.Form):
    """What a manager credits on an invoice. Whether the amount fits (at most what is not credited yet,
    reachable at the invoice's VAT rate) is decided by billing.services.credit_note_partial, under the
    invoice's lock: its refusal becomes an error here."""

    FULL, PARTIAL = "full", "partial"

    scope = forms.ChoiceField(label=_("Credit"), widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Amount to credit, incl. VAT"),
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=_("For part of the invoice only."),
    )
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        help_text=_("Printed on the credit note, sent to the member and kept in the audit log."),
    )
    # What was credited when the form was shown: a form sent twice is refused, not credited twice.
    credited_before = forms.DecimalField(widget=forms.HiddenInput, max_digits=12, decimal_places=2)

    def __init__(self, *args, balance, currency, full_allowed, partial_allowed, **kwargs):
        choices = []
        if full_allowed:
            label = gettext("The whole invoice (%(amount)s)") % {"amount": _money(balance.gross, currency)}
            choices.append((self.FULL, label))
        if partial_allowed:
            choices.append((self.PARTIAL, gettext("Part of it")))
        kwargs.setdefault(
            "initial",
            {"scope": choices[0][0] if choices else None, "credited_before": balance.credited},
        )
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = choices
        if partial_allowed:
            self.fields["amount"].widget.attrs["placeholder"] = number_format(balance.creditable, 2)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("scope") == self.PARTIAL
            and cleaned.get("amount") is None
            and "amount" not in self.errors
        ):
            self.add_error("amount", gettext("Enter the amount to credit."))
        return cleaned


# --- passes -----------------------------------------------------------------------------------------


class PassPeriodInline(ReadOnlyInline):
    model = PassPeriod
    fields = ["number", "start_date", "end_date", "unit_price", "vat_rate", "invoice_link"]
    readonly_fields = fields
    ordering = ["-number"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description=_("invoice"))
    def invoice_link(self, period):
        if period.invoice is None:
            return EMPTY
        url = reverse("admin:billing_invoice_change", args=[period.invoice.pk])
        return format_html('<a href="{}">{}</a>', url, period.invoice.number)


class PassNoticeInline(ReadOnlyInline):
    model = Notice
    fields = ["kind", "subject", "email", "created_at", "sent_at"]
    readonly_fields = fields
    verbose_name_plural = _("notices sent about this pass")


@admin.register(Pass)
class PassAdmin(SpaceScopedAdmin):
    list_display = [
        "member",
        "plan_name",
        "space",
        "status",
        "current_period",
        "auto_renew",
        "past_due_since",
    ]
    list_filter = ["status", "kind", _space_filter("space"), "auto_renew"]
    list_select_related = ["member", "plan", "space"]
    search_fields = ["member__email", "member__member__display_name", "plan__name"]
    actions = ["cancel_at_period_end", "suspend", "restore", "extend"]
    inlines = [PassPeriodInline, PassNoticeInline]
    fields = [
        "member",
        "plan",
        "space",
        "kind",
        "status",
        "anchor_date",
        "current_period",
        "auto_renew",
        "past_due_since",
        "reminders_sent",
        "renewal_notice_for",
        "ended_on",
        "created_at",
    ]
    readonly_fields = [name for name in fields if name != "auto_renew"]

    def get_queryset(self, request):
        latest = PassPeriod.objects.filter(pass_obj=OuterRef("pk")).order_by("-number")
        return (
            super()
            .get_queryset(request)
            .annotate(
                _period_number=Subquery(latest.values("number")[:1]),
                _period_start=Subquery(latest.values("start_date")[:1]),
                _period_end=Subquery(latest.values("end_date")[:1]),
            )
        )

    def has_add_permission(self, request):
        return False  # passes are bought through billing.services.pass_purchase, which invoices them

    def has_change_permission(self, request, obj=None):
        return _runs_a_space(request)  # only auto-renewal, through the service

    def has_delete_permission(self, request, obj=None):
        return False  # a pass and its periods are the history of what was sold

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not _auto_renew_switchable(obj):
            return [*self.readonly_fields, "auto_renew"]
        return self.readonly_fields

    @admin.display(description=_("plan"), ordering="plan__name")
    def plan_name(self, pass_obj):
        return pass_obj.plan.name

    @admin.display(description=_("current period"), ordering="_period_start")
    def current_period(self, pass_obj):
        if pass_obj._period_number is None:
            return EMPTY
        start, end = _short_date(pass_obj._period_start), _short_date(pass_obj._period_end)
        return f"#{pass_obj._period_number} · {start} - {end}"

    def save_model(self, request, obj, form, change):
        # Never obj.save(): auto-renewal is the one thing a manager changes here, through its service.
        if change and "auto_renew" in form.changed_data:
            try:
                services.pass_set_auto_renew(
                    pass_obj=obj, auto_renew=form.cleaned_data["auto_renew"], by=request.user
                )
            except services.BillingError as error:
                self.message_user(request, error.message, messages.ERROR)

    @admin.action(
        description=_("Cancel at the end of the paid period (stop auto-renewal)"), permissions=["change"]
    )
    def cancel_at_period_end(self, request, queryset):
        done, refused = 0, []
        for pass_obj in queryset.filter(auto_renew=True).select_related("plan", "member"):
            try:
                services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=False, by=request.user)
                self.log_change(request, pass_obj, gettext("Stopped auto-renewal (cancel at period end)."))
                done += 1
            except services.BillingError as error:
                refused.append(f"{pass_obj}: {error.message}")
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d pass will end after its paid period.",
                    "%(count)d passes will end after their paid period.",
                    done,
                )
                % {"count": done},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)
        if not done and not refused:
            self.message_user(request, gettext("None of these passes renews automatically."), messages.INFO)

    # Suspend, restore and extend ask for a reason (and a number of days) on an intermediate page, then
    # call their service pass by pass: each is one transaction with its audit entry.

    def _with_form(self, request, queryset, *, action: str, form_class, page: dict, run, done_message):
        form = form_class(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            context = {
                **self.admin_site.each_context(request),
                **page,
                "opts": self.opts,
                "form": form,
                "passes": queryset.select_related("member__member", "plan", "space"),
                "action": action,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "media": self.media + form.media,
            }
            return TemplateResponse(request, "admin/billing/pass/action_form.html", context)
        done, refused = 0, []
        for pass_obj in queryset.select_related("member__member", "plan", "space").order_by("pk"):
            try:
                for level, text in run(pass_obj, form.cleaned_data) or ():
                    self.message_user(request, text, level)
                done += 1
            except services.BillingError as error:
                refused.append(f"{pass_obj}: {error.message}")
        if done:
            self.message_user(request, done_message(done, form.cleaned_data), messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
        return None

    @admin.action(description=_("Suspend (past due passes: the member is told)"), permissions=["change"])
    def suspend(self, request, queryset):
        def run(pass_obj, data):
            services.pass_suspend(
                pass_obj=pass_obj, by=request.user, reason=data["reason"], now=timezone.now()
            )

        return self._with_form(
            request,
            queryset,
            action="suspend",
            form_class=PassReasonForm,
            page={
                "title": _("Suspend passes"),
                "intro": _(
                    "These passes are past due. Suspended, they allow no new booking (the bookings made "
                    "are kept) until their invoice is paid; each member receives the suspension e-mail."
                ),
                "submit": _("Suspend these passes"),
            },
            run=run,
            done_message=lambda count, data: (
                ngettext(
                    "%(count)d pass suspended; the member is told by e-mail.",
                    "%(count)d passes suspended; their members are told by e-mail.",
                    count,
                )
                % {"count": count}
            ),
        )

    @admin.action(description=_("Restore (suspended passes)"), permissions=["change"])
    def restore(self, request, queryset):
        def run(pass_obj, data):
            now = timezone.now()
            unpaid = services.pass_overdue_invoices(pass_obj=pass_obj, today=_today_at(pass_obj.space))
            services.pass_restore(pass_obj=pass_obj, by=request.user, reason=data["reason"], now=now)
            if unpaid and pass_obj.status == PassStatus.ACTIVE:
                text = gettext(
                    "%(pass)s is usable again although %(numbers)s is still unpaid: your decision is "
                    "recorded in the audit log."
                ) % {"pass": pass_obj, "numbers": ", ".join(invoice.number for invoice in unpaid)}
                return [(messages.WARNING, text)]
            return []

        return self._with_form(
            request,
            queryset,
            action="restore",
            form_class=PassReasonForm,
            page={
                "title": _("Restore passes"),
                "intro": _(
                    "These passes become active again at once: their members can book. A pass whose "
                    "invoice is still unpaid can be restored too; the audit log says so."
                ),
                "submit": _("Restore these passes"),
            },
            run=run,
            done_message=lambda count, data: (
                ngettext("%(count)d pass restored.", "%(count)d passes restored.", count) % {"count": count}
            ),
        )

    @admin.action(description=_("Extend by a number of days (goodwill gesture)"), permissions=["change"])
    def extend(self, request, queryset):
        def run(pass_obj, data):
            period = services.pass_extend(
                pass_obj=pass_obj, days=data["days"], by=request.user, reason=data["reason"]
            )
            text = gettext("%(pass)s now runs until %(day)s.") % {
                "pass": pass_obj,
                "day": date_format(period.end_date, "DATE_FORMAT"),
            }
            return [(messages.INFO, text)]

        return self._with_form(
            request,
            queryset,
            action="extend",
            form_class=PassExtendForm,
            page={
                "title": _("Extend passes"),
                "intro": _(
                    "The last period of each pass ends this many days later, free of charge; its next "
                    "renewal (if it renews) starts the day after. Credits of that period last as long."
                ),
                "submit": _("Extend these passes"),
            },
            run=run,
            done_message=lambda count, data: (
                ngettext(
                    "%(count)d pass extended by %(days)d days.",
                    "%(count)d passes extended by %(days)d days.",
                    count,
                )
                % {"count": count, "days": data["days"]}
            ),
        )


class PassReasonForm(forms.Form):
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit log."),
    )


class PassExtendForm(PassReasonForm):
    days = forms.IntegerField(
        label=_("Days"), min_value=1, max_value=services.MAX_EXTENSION_DAYS, help_text=_("From 1 to 90.")
    )
    field_order = ["days", "reason"]


def _auto_renew_switchable(pass_obj: Pass) -> bool:
    # Mirrors the refusal of services.pass_set_auto_renew, to offer the box only where it can work.
    return pass_obj.kind in RENEWING_KINDS and pass_obj.status in USABLE_STATUSES


# --- payments and notices ---------------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    space_lookup = "invoice__space"
    list_display = [
        "invoice",
        "member",
        "space",
        "amount",
        "method",
        "status",
        "received_on",
        "reference",
        "recorded_by",
        "created_at",
    ]
    list_filter = ["status", "method", _space_filter("invoice__space")]
    list_select_related = ["invoice__space", "invoice__member", "recorded_by"]
    search_fields = ["invoice__number", "invoice__member__email", "reference"]
    date_hierarchy = "created_at"
    fields = [
        "invoice",
        "amount",
        "method",
        "status",
        "received_on",
        "reference",
        "gateway",
        "intent_id",
        "refunded",
        "refunds",
        "recorded_by",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("member"), ordering="invoice__member__email")
    def member(self, payment):
        return payment.invoice.member

    @admin.display(description=_("space"), ordering="invoice__space__name")
    def space(self, payment):
        return payment.invoice.space

    @admin.display(description=_("refunds"))
    def refunds(self, payment):
        rows = [
            (
                _money(refund.amount, payment.invoice.currency),
                refund.get_status_display(),
                refund.credit_note.number,
            )
            for refund in payment.refunds.select_related("credit_note").order_by("pk")
        ]
        links = format_html_join(", ", "{} ({}, {})", rows) if rows else EMPTY
        if cards.refundable(payment):
            url = reverse("admin:billing_payment_refund", args=[payment.pk])
            return format_html('{} · <a href="{}">{}</a>', links, url, _("Refund"))
        return links

    def get_urls(self):
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, object_id):
        """A manager refunds all or part of a card payment: a credit note is issued, Stripe refunds the
        card, the member is told by e-mail and the audit log keeps who did it and why."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, unquote(object_id))  # scoped: another space's is not found
        if payment is None:
            raise Http404
        change_url = reverse("admin:billing_payment_change", args=[payment.pk])
        left = cards.refundable(payment)
        if not left:
            message = gettext(
                "Only a card payment received through Stripe, not refunded yet, can be refunded."
            )
            self.message_user(request, message, messages.WARNING)
            return redirect(change_url)
        invoice = payment.invoice
        form = RefundForm(request.POST or None, initial={"amount": left})
        if request.method == "POST" and form.is_valid():
            try:
                refund = cards.payment_refund(
                    payment=payment,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    today=_today_at(invoice.space),
                )
            except services.BillingError as error:
                on_amount = error.code in ("refund_too_large", "credit_too_large", "credit_inexact")
                form.add_error("amount" if on_amount else None, error.message)
            else:
                message = gettext(
                    "%(amount)s refunded on %(number)s (credit note %(note)s); the member is told by e-mail."
                ) % {
                    "amount": _money(refund.amount, invoice.currency),
                    "number": invoice.number,
                    "note": refund.credit_note.number,
                }
                self.message_user(request, message, messages.SUCCESS)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund a card payment"),
            "subtitle": invoice.number,
            "opts": self.opts,
            "original": payment,
            "invoice": invoice,
            "form": form,
            "paid": _money(payment.amount, invoice.currency),
            "refunded": _money(payment.refunded, invoice.currency),
            "left": _money(left, invoice.currency),
            "change_url": change_url,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/billing/payment/refund.html", context)


class RefundForm(forms.Form):
    """What a manager refunds. Whether it fits (at most what is left of the payment, under its lock) is
    decided by billing.cards.payment_refund: its refusal becomes an error here."""

    amount = forms.DecimalField(
        label=_("Amount to refund, incl. VAT"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        help_text=_("Printed on the credit note, sent to the member and kept in the audit log."),
    )


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    space_lookup = "pass_obj__space"
    list_display = ["kind", "pass_obj", "email", "subject", "created_at", "sent_at"]
    list_filter = ["kind", _space_filter("pass_obj__space"), ("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["pass_obj__plan", "pass_obj__member"]
    search_fields = ["email", "subject"]
    date_hierarchy = "created_at"
    fields = ["kind", "pass_obj", "invoice", "email", "subject", "body", "created_at", "sent_at"]
    readonly_fields = fields
