"""Forms of billing: in the admin, the price tiers of a plan (checked with billing.pricing before they
are saved) and the payment a manager records against an invoice; on the member pages, buying a pass and
upgrading it."""

from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from billing import pricing
from billing.models import PaymentMethod, Plan, PlanKind
from billing.money import DEFAULT_CURRENCY

# What each pricing problem means for a manager. Values come from PricingProblem.params.
_BASE_PRICE_MESSAGES = {
    "negative_price": _("The price must not be negative."),
    "too_many_decimals": _("The price has more than %(places)s decimal places."),
    "price_not_finite": _("The price is not a number."),
}
_TIER_MESSAGES = {
    "negative_price": _("The price from period %(first_period)s must not be negative."),
    "too_many_decimals": _("The price from period %(first_period)s has more than %(places)s decimal places."),
    "price_not_finite": _("The price from period %(first_period)s is not a number."),
    "tier_first_period_invalid": _("A tier starts at period %(first_period)s; periods are numbered from 1."),
    "tier_duplicated": _("Two tiers start at period %(first_period)s: keep one."),
    "tier_price_rises": _(
        "The price from period %(first_period)s (%(price)s) is higher than an earlier period's "
        "(%(earlier_price)s): a member who stays longer must never pay more per period."
    ),
    "unknown_currency": _("The space's currency %(currency)s is not supported."),
    "nominal_days_invalid": _("The working days per period must be at least 1."),
}


def pricing_problem_message(problem: pricing.PricingProblem) -> str:
    """The translated message of a problem found by pricing.validate_terms (English if it is new)."""
    base_price = problem.params.get("first_period", "") is None
    template = (_BASE_PRICE_MESSAGES if base_price else _TIER_MESSAGES).get(problem.code)
    if template is None:
        return problem.message
    return str(template) % problem.params


class PriceTierFormSet(BaseInlineFormSet):
    """The tiers of a plan. The whole ladder (the plan's price and its tiers) is checked as pricing will
    use it, so a tier that would make a later period dearer, two tiers starting at the same period or a
    negative price is a form error, never a price the renewal job refuses at night."""

    def plan_terms(self) -> pricing.PlanTerms | None:
        """The terms of the plan being edited with the tiers of this formset (None if the plan's own
        fields are not valid yet: their errors are shown on them)."""
        plan = self.instance
        if plan.unit_price is None or plan.kind not in PlanKind.values:
            return None
        tiers = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if self.can_delete and self._should_delete_form(form):
                continue
            if data.get("first_period") is None or data.get("unit_price") is None:
                continue  # an empty extra row
            tiers.append(pricing.Tier(data["first_period"], data["unit_price"]))
        return pricing.PlanTerms(
            kind=pricing.PlanKind(plan.kind),
            unit_price=plan.unit_price,
            tiers=tuple(tiers),
            nominal_days=plan.nominal_days,
            currency=plan.space.currency if plan.space_id else DEFAULT_CURRENCY,
        )

    def clean(self):
        if any(self.errors):
            return  # rows with invalid values show their own errors
        terms = self.plan_terms()
        if terms is not None:
            problems = pricing.validate_terms(terms)
            if problems:
                raise ValidationError([pricing_problem_message(problem) for problem in problems])
        super().clean()


# A manager records money received; "offline" is the placeholder of a payment still owed.
RECORDABLE_METHODS = (PaymentMethod.TRANSFER, PaymentMethod.CASH, PaymentMethod.CHEQUE, PaymentMethod.CARD)


class RecordPaymentForm(forms.Form):
    """Money received against an invoice. Whether the amount fits what is still due is decided by
    billing.services.payment_record, under the invoice's lock: its refusal becomes an error here."""

    amount = forms.DecimalField(
        label=_("Amount received"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=[(method.value, method.label) for method in RECORDABLE_METHODS]
    )
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reference = forms.CharField(
        label=_("Reference"),
        max_length=120,
        required=False,
        help_text=_("The transfer's reference, the cheque number..."),
    )

    def __init__(self, *args, due: Decimal, today: date, **kwargs):
        self.due = due
        self.today = today
        kwargs.setdefault("initial", {"amount": due, "method": PaymentMethod.TRANSFER, "received_on": today})
        super().__init__(*args, **kwargs)
        self.fields["received_on"].widget.attrs["max"] = today.isoformat()

    def clean_received_on(self) -> date:
        received_on = self.cleaned_data["received_on"]
        if received_on > self.today:
            raise ValidationError(_("The date received cannot be in the future."), code="future")
        return received_on


# --- member pages (billing.views) ----------------------------------------------------------------------


class PurchaseForm(forms.Form):
    """Buying a pass: the day it starts, and the member's express request that it start within the
    14-day withdrawal period (French consumer code L221-25 and L221-28 1°). Whether the day is allowed
    (not in the past, at most 60 days ahead) is decided by billing.services.pass_purchase."""

    start = forms.DateField(
        label=_("Start date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    start_now = forms.BooleanField(
        label=_(
            "I ask for the pass to start on the chosen day, and I understand that once it has started I "
            "can only withdraw by paying for what I used, and not at all once it is used up."
        )
    )


class UpgradeForm(forms.Form):
    """The longer plan a member moves a pass to, among `plans` (those billing.views offers)."""

    plan = forms.ModelChoiceField(
        queryset=None, label=_("New plan"), empty_label=None, widget=forms.RadioSelect
    )

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = Plan.objects.filter(pk__in=[plan.pk for plan in plans])
        self.fields["plan"].label_from_instance = lambda plan: plan.name
        if plans:
            self.fields["plan"].initial = plans[0].pk
