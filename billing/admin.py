"""The billing admin a space manager uses: plans and their price ladder, invoices (read-only, with the
payments recorded against them), passes, payments and the notices sent about passes.

Like bookings.admin, every page is scoped to the spaces the manager runs (members.selectors.
managed_space_ids; superusers see every space). Writes go through billing.services: an issued invoice is
never saved again, a payment is recorded by payment_record, auto-renewal is switched by
pass_set_auto_renew.
"""

from decimal import Decimal
from zoneinfo import ZoneInfo

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
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing import pricing, services
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
    Payment,
    PaymentStatus,
    Plan,
    PlanKind,
    PriceTier,
)
from billing.money import CURRENCY_EXPONENTS
from members.selectors import managed_space_ids
from spaces import localtime
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
    """The spaces the user runs (None: all of them), read once per request."""
    if not hasattr(request, "_billing_space_ids"):
        request._billing_space_ids = managed_space_ids(user=request.user)
    return request._billing_space_ids


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
        (_("Amounts"), {"fields": ["currency", "net", "vat", "gross", "paid", "still_due"]}),
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
        money = DecimalField(max_digits=12, decimal_places=2)
        return (
            super()
            .get_queryset(request)
            .annotate(
                _paid=Coalesce(Subquery(paid, output_field=money), Value(Decimal("0")), output_field=money)
            )
        )

    @admin.display(description=_("amount paid"), ordering="_paid")
    def paid(self, invoice):
        return _money(invoice._paid, invoice.currency)

    @admin.display(description=_("still due"))
    def still_due(self, invoice):
        # Nothing is due on a credit note, nor on an invoice a credit note cancelled.
        if invoice.kind != DocumentKind.INVOICE or invoice.status == InvoiceStatus.CREDITED:
            return EMPTY
        return _money(invoice.gross - invoice._paid, invoice.currency)

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
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and _is_payable(obj):
            context["record_payment_url"] = self._record_payment_url(obj)
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
        due = invoice.gross - invoice._paid
        form = RecordPaymentForm(request.POST or None, due=due, today=_today_at(invoice.space))
        if request.method == "POST" and form.is_valid():
            try:
                payment = services.payment_record(invoice=invoice, by=request.user, **form.cleaned_data)
            except services.BillingError as error:
                form.add_error("amount" if error.code == "invalid_amount" else None, error.message)
            else:
                rest = invoice.gross - services.amount_paid(invoice)
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
            "form": form,
            "gross": _money(invoice.gross, invoice.currency),
            "paid": _money(invoice._paid, invoice.currency),
            "due": _money(due, invoice.currency),
            "change_url": change_url,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/billing/invoice/record_payment.html", context)


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
    actions = ["cancel_at_period_end"]
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
                services.pass_set_auto_renew(pass_obj=obj, auto_renew=form.cleaned_data["auto_renew"])
            except services.BillingError as error:
                self.message_user(request, error.message, messages.ERROR)

    @admin.action(
        description=_("Cancel at the end of the paid period (stop auto-renewal)"), permissions=["change"]
    )
    def cancel_at_period_end(self, request, queryset):
        done, refused = 0, []
        for pass_obj in queryset.filter(auto_renew=True).select_related("plan", "member"):
            try:
                services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=False)
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
