"""The managers' dashboard in the admin: the admin index with the dashboard above the app list, a page
per space, and the printable check-in list of the day.

coworking/urls.py routes them before `admin.site.urls`, each wrapped in `admin.site.admin_view` (an
active staff login, never cached, CSRF-protected):

    /admin/                                 index: the admin's own index view, given the dashboard
    /admin/dashboard/<space_id>/            space_dashboard
    /admin/dashboard/<space_id>/check-in/   check_in

Why a URL in front of the admin index rather than a template tag: the view validates the filters and can
still add a message (the admin renders messages above the content), the figures are computed in one
place whose query count a test measures, and nothing replaces a method of `admin.site` at import time.
The admin's own index view still builds the page (`admin.site.index(request, extra_context=...)`), so the
app list and the recent actions are unchanged.

The figures come from coworking.dashboard; this module chooses the spaces (only those the user runs),
reads the filters, and turns the figures into charts with their tables (coworking.charts).
"""

from datetime import date, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.documents import format_money
from coworking import charts, dashboard
from coworking.templatetags.dashboard import format_percent
from spaces import localtime
from spaces.models import Space

# How far from today a period may start or end: beyond it a date is a typo, not a question.
MAX_YEARS_AWAY = 20


class DashboardFilterForm(forms.Form):
    """?space=<id>&from=<date>&to=<date>. The space must be one the user runs; the period is at most
    MAX_PERIOD_DAYS long; a missing end is filled with the default window's length."""

    space = forms.TypedChoiceField(label=gettext_lazy("Space"), coerce=int, required=False, empty_value=None)

    def __init__(self, data=None, *, spaces: list[Space], today: date, with_space: bool = True, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today
        if with_space:
            self.fields["space"].choices = [("", _("All my spaces")), *((s.pk, s.name) for s in spaces)]
        else:
            del self.fields["space"]
        for name, label in (("from", gettext_lazy("From")), ("to", gettext_lazy("To"))):
            self.fields[name] = forms.DateField(
                label=label,
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )

    def clean(self):
        cleaned = super().clean()
        if "from" in self.errors or "to" in self.errors:
            return cleaned
        first, last = cleaned.get("from"), cleaned.get("to")
        if first is None and last is None:
            return cleaned
        window = timedelta(days=dashboard.DAYS_BEFORE + dashboard.DAYS_AFTER)
        first = first or last - window
        last = last or first + window
        if any(abs((day - self.today).days) > MAX_YEARS_AWAY * 366 for day in (first, last)):
            raise ValidationError(
                _("The dates must lie within %(years)s years of today.") % {"years": MAX_YEARS_AWAY},
                code="too_far",
            )
        if last < first:
            raise ValidationError(_("The period ends before it starts."), code="order")
        if (last - first).days + 1 > dashboard.MAX_PERIOD_DAYS:
            raise ValidationError(
                _("A period covers at most %(days)s days.") % {"days": dashboard.MAX_PERIOD_DAYS},
                code="too_long",
            )
        cleaned["from"], cleaned["to"] = first, last
        return cleaned


def _filters(request, spaces: list[Space], *, with_space: bool):
    """(spaces shown, first day, last day, form to display) from the query string. What cannot be used
    is replaced by the default, with a message: a bad query string never fails the page."""
    zone = dashboard.reference_zone(spaces)
    today = localtime.local_date(timezone.now(), zone)
    selected, first, last = spaces, None, None
    space_id = None
    form = DashboardFilterForm(request.GET or None, spaces=spaces, today=today, with_space=with_space)
    if form.is_bound:
        form.is_valid()
        data = form.cleaned_data
        if "space" in form.errors:
            messages.warning(
                request, _("You do not run the space asked for: the dashboard shows all your spaces.")
            )
        elif data.get("space"):
            space_id = data["space"]
            selected = [space for space in spaces if space.pk == space_id]
        date_errors = [str(e) for name in ("from", "to", "__all__") for e in form.errors.get(name, [])]
        if date_errors:
            default = _("The dashboard shows the last %(before)s days and the next %(after)s instead.") % {
                "before": dashboard.DAYS_BEFORE,
                "after": dashboard.DAYS_AFTER,
            }
            messages.warning(request, " ".join([*date_errors, default]))
        else:
            first, last = data.get("from"), data.get("to")
    shown = DashboardFilterForm(
        spaces=spaces,
        today=today,
        with_space=with_space,
        initial={"space": space_id, "from": first, "to": last},
    )
    return selected, first, last, shown


def _day_label(day: date) -> str:
    return f"{date_format(day, 'D')} {date_format(day, 'SHORT_DATE_FORMAT')}"


def dashboard_charts(data: dashboard.Dashboard) -> dict:
    """The charts of a dashboard, each drawn from the very figures its table lists."""
    occupancy = charts.line_chart(
        chart_id="occupancy-chart",
        title=_("Occupancy per day"),
        categories=[_day_label(day.day) for day in data.days],
        axis_labels=[date_format(day.day, "j M") for day in data.days],
        series=[
            charts.Series(_("Desks"), [day.desk_rate for day in data.days]),
            charts.Series(_("Meeting rooms"), [day.room_rate for day in data.days]),
        ],
        category_header=_("Day"),
        formatter=format_percent,
        y_max=100,
        description=_(
            "Percent of the desks and of the meeting-room hours booked each day; none when closed."
        ),
    )
    revenue = []
    currencies = sorted({row.currency for row in data.revenue})
    for currency in currencies:
        months = [row for row in data.revenue if row.currency == currency]
        title = _("Revenue per month")
        if len(currencies) > 1:
            title = f"{title} ({currency})"
        revenue.append(
            charts.bar_chart(
                chart_id=f"revenue-chart-{currency.lower()}",
                title=title,
                categories=[date_format(row.month, "YEAR_MONTH_FORMAT") for row in months],
                axis_labels=[date_format(row.month, "M y") for row in months],
                series=[
                    charts.Series(_("Invoiced excl. VAT"), [row.invoiced_net for row in months]),
                    charts.Series(_("Invoiced incl. VAT"), [row.invoiced_gross for row in months]),
                    charts.Series(_("Paid excl. VAT"), [row.paid_net for row in months]),
                    charts.Series(_("Paid incl. VAT"), [row.paid_gross for row in months]),
                ],
                category_header=_("Month"),
                formatter=lambda amount, currency=currency: format_money(amount, currency),
                description=_(
                    "Invoices less credit notes by issue date, and payments received by the date they "
                    "were received."
                ),
            )
        )
    passes = charts.bar_chart(
        chart_id="passes-chart",
        title=_("Active passes by kind"),
        categories=[row.label for row in data.passes_by_kind],
        series=[charts.Series(_("Passes"), [row.count for row in data.passes_by_kind])],
        category_header=_("Kind"),
        formatter=charts.plain_number(0),
        description=_("Passes active or past due, by kind of plan."),
    )
    return {"occupancy": occupancy, "revenue": revenue, "passes": passes}


def _dashboard_context(request, spaces: list[Space], *, with_space: bool) -> dict:
    selected, first, last, form = _filters(request, spaces, with_space=with_space)
    data = dashboard.dashboard(
        spaces=selected,
        now=timezone.now(),
        first=first,
        last=last,
        include_signups=request.user.is_superuser,
    )
    return {
        "dashboard": data,
        "dashboard_form": form,
        "dashboard_charts": dashboard_charts(data),
        "renewal_days": dashboard.RENEWAL_DAYS,
    }


def index(request):
    """The admin index: the dashboard of the spaces the user runs, then the usual list of apps."""
    spaces = dashboard.spaces_for(user=request.user)
    extra = (
        _dashboard_context(request, spaces, with_space=True) if spaces else {"dashboard_without_space": True}
    )
    return admin.site.index(request, extra_context=extra)


def _space_or_404(request, space_id: int) -> Space:
    # A space the user does not run does not exist for them: 404, not 403, so ids reveal nothing.
    for space in dashboard.spaces_for(user=request.user):
        if space.pk == space_id:
            return space
    raise Http404("No such space")


def space_dashboard(request, space_id: int):
    """The dashboard of one space, with its period filter."""
    space = _space_or_404(request, space_id)
    request.current_app = admin.site.name
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard of %(space)s") % {"space": space.name},
        "subtitle": None,
        "space": space,
        **_dashboard_context(request, [space], with_space=False),
    }
    return TemplateResponse(request, "admin/dashboard/space.html", context)


def check_in(request, space_id: int):
    """Today's printable check-in list of a space: who is expected, by name, with a box to tick."""
    space = _space_or_404(request, space_id)
    request.current_app = admin.site.name
    now = timezone.now()
    rows = dashboard.expected_today(spaces=[space], now=now)[space.pk]
    rows.sort(key=lambda row: (row.member_name.casefold(), row.start_time, row.resource_name))
    day = localtime.local_date(now, space.tz)
    context = {
        **admin.site.each_context(request),
        "title": _("Check-in list of %(space)s") % {"space": space.name},
        "subtitle": None,
        "space": space,
        "day": day,
        "rows": rows,
    }
    return TemplateResponse(request, "admin/dashboard/check_in.html", context)
