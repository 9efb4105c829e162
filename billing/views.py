"""Member pages of billing: a space's plans (the price ladder, per-day prices and what a monthly pass
would save them), buying a pass, and their passes (renewal, cancelling at period end, upgrading)."""

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import card_views, pricing, selectors, services, stripe_gateway
from billing.forms import PurchaseForm, UpgradeForm
from billing.models import RENEWING_KINDS, USABLE_STATUSES, CreditKind, Pass, PassStatus, PlanKind
from spaces import localtime
from spaces import selectors as space_selectors

USAGE_WINDOW_DAYS = 30


def _space_or_404(slug: str):
    space = space_selectors.active_space_by_slug(slug)
    if space is None:
        raise Http404
    return space


def _offer(plan, vat_rate):
    terms = plan.terms()
    steps = pricing.ladder(terms, vat_rate=vat_rate)
    return {"plan": plan, "steps": steps, "first": steps[0], "days": terms.days_per_period}


def _savings_hint(request, space, offers, today):
    """ "A monthly pass would have saved you X this month", from the desk days the member paid one by
    one (day passes, pack credits) in the last 30 days."""
    if not request.user.is_authenticated:
        return None
    by_kind = {offer["plan"].kind: offer for offer in offers}
    day, monthly = by_kind.get(PlanKind.DAY_PASS), by_kind.get(PlanKind.MONTHLY)
    if day is None or monthly is None:
        return None
    days = selectors.paid_desk_days(
        member_id=request.user.pk,
        space=space,
        since=today - timedelta(days=USAGE_WINDOW_DAYS - 1),
        until=today,
    )
    saving = pricing.monthly_savings_hint(
        days_used=days, day_pass_gross=day["first"].gross, monthly_gross=monthly["first"].gross
    )
    return {"days": days, "saving": saving, "plan": monthly["plan"]} if saving else None


@require_GET
def plans(request, slug: str):
    space = _space_or_404(slug)
    today = localtime.local_date(timezone.now(), space.tz)
    vat_rate = services.vat_fraction(space)
    offers = [_offer(plan, vat_rate) for plan in selectors.plans_on_sale(space=space)]
    return render(
        request,
        "billing/plans.html",
        {
            "space": space,
            "offers": offers,
            "hint": _savings_hint(request, space, offers, today),
            "today": today,
            "form": PurchaseForm(initial={"start": today}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def buy(request, slug: str, plan_id: int):
    space = _space_or_404(slug)
    plan = get_object_or_404(selectors.plans_on_sale(space=space), pk=plan_id)
    now = timezone.now()
    today = localtime.local_date(now, space.tz)
    form = PurchaseForm(request.POST or None, initial={"start": today})
    if request.method == "POST" and form.is_valid():
        by_card = stripe_gateway.enabled()
        try:
            pass_obj = services.pass_purchase(
                member=request.user, plan=plan, start=form.cleaned_data["start"], now=now, by_card=by_card
            )
        except services.BillingError as error:
            form.add_error(None, error.message)
        else:
            if by_card and pass_obj.status == PassStatus.PENDING:
                # Paid in Stripe Checkout; the pass is active once Stripe confirms the payment.
                return card_views.start_checkout(request, pass_obj.periods.get().invoice)
            invoice = pass_obj.periods.get().invoice
            messages.success(
                request,
                _("Your %(plan)s is ready. Invoice %(number)s is in your account.")
                % {"plan": plan.name, "number": invoice.number},
            )
            return redirect("billing:passes")
    offer = _offer(plan, services.vat_fraction(space))
    return card_views.allow_checkout(
        render(
            request,
            "billing/buy.html",
            {"space": space, "offer": offer, "plan": plan, "form": form, "cards": stripe_gateway.enabled()},
        )
    )


def _pass_rows(user, now):
    rows = []
    for pass_obj in selectors.member_passes(member_id=user.pk):
        space = pass_obj.space
        today = localtime.local_date(now, space.tz)
        periods = sorted(pass_obj.periods.all(), key=lambda p: p.number)
        current = next((p for p in periods if p.start_date <= today <= p.end_date), None)
        last = periods[-1] if periods else None
        usable = pass_obj.status in USABLE_STATUSES
        row = {"pass": pass_obj, "current": current, "last": last, "usable": usable}
        if usable and pass_obj.kind in RENEWING_KINDS and pass_obj.auto_renew and last is not None:
            nxt = services.next_period(pass_obj, last)
            if nxt is not None:
                price = pricing.unit_price_for(pass_obj.plan.terms(), last.number + 1)
                row["next"] = {
                    "period": nxt,
                    "gross": pricing.make_line(
                        "", Decimal(1), price, services.vat_fraction(space), space.currency
                    ).gross,
                }
        if pass_obj.kind == PlanKind.PACK_10 and usable:
            row["credits"] = selectors.credit_summary(member_id=user.pk, space=space, day=today)[
                CreditKind.DESK_DAY
            ]
        if usable:
            row["upgrades"] = selectors.upgrade_plans(pass_obj=pass_obj)
        rows.append(row)
    return rows


@login_required
@require_GET
def passes(request):
    now = timezone.now()
    return render(
        request,
        "billing/passes.html",
        {"rows": _pass_rows(request.user, now), "cards": stripe_gateway.enabled()},
    )


def _own_pass(request, pass_id: int) -> Pass:
    return get_object_or_404(Pass.objects.select_related("plan", "space"), pk=pass_id, member=request.user)


@login_required
@require_POST
def set_auto_renew(request, pass_id: int):
    pass_obj = _own_pass(request, pass_id)
    auto_renew = request.POST.get("auto_renew") == "1"
    try:
        services.pass_set_auto_renew(pass_obj=pass_obj, auto_renew=auto_renew)
    except services.BillingError as error:
        messages.error(request, error.message)
    else:
        if auto_renew:
            messages.success(request, _("Your pass renews again at the end of each period."))
        else:
            messages.success(
                request, _("Your pass will not renew: you keep it until the end of the period already paid.")
            )
    return redirect("billing:passes")


@login_required
@require_http_methods(["GET", "POST"])
def upgrade(request, pass_id: int):
    pass_obj = _own_pass(request, pass_id)
    now = timezone.now()
    space = pass_obj.space
    today = localtime.local_date(now, space.tz)
    form = UpgradeForm(request.POST or None, plans=selectors.upgrade_plans(pass_obj=pass_obj))
    if request.method == "POST" and form.is_valid():
        try:
            new_pass = services.pass_upgrade(pass_obj=pass_obj, plan=form.cleaned_data["plan"], now=now)
        except services.BillingError as error:
            form.add_error(None, error.message)
        else:
            invoice = new_pass.periods.get().invoice
            messages.success(
                request,
                _("Done: you now have a %(plan)s. Invoice %(number)s credits what you had not used.")
                % {"plan": new_pass.plan.name, "number": invoice.number},
            )
            return redirect("billing:passes")
    credit = (
        services.unused_value(pass_obj=pass_obj, today=today) if pass_obj.status in USABLE_STATUSES else 0
    )
    return render(
        request,
        "billing/upgrade.html",
        {"pass": pass_obj, "form": form, "credit": credit, "space": space, "back": reverse("billing:passes")},
    )
