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
The index is the page `admin.site.index` builds (same template, context and app list; see index()), so
the app list and the recent actions are unchanged.

The figures come from coworking.dashboard; this module chooses the spaces (only those the user runs),
reads the filters, turns the figures into charts with their tables (coworking.charts) and writes the long
tables' rows. The rendered figures are kept in the cache for DASHBOARD_CACHE_SECONDS (60 s) per language,
spaces and filters, and say when they were computed: on a 10,000-booking space computing them takes about
a hundred milliseconds, serving them from the cache well under one (bench/README.md, B6).
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.template.defaultfilters import urlencode
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from billing.documents import format_money
from bookings import page_cache
from bookings.availability_cache import availability_version
from coworking import charts, dashboard
from coworking.templatetags.dashboard import format_percent
from spaces import localtime
from spaces.admin_scoping import space_ids_for
from spaces.models import Space

# How far from today a period may start or end: beyond it a date is a typo, not a question.
MAX_YEARS_AWAY = 20
# How long the dashboard's figures, rendered, are served from the cache (settings.DASHBOARD_CACHE_SECONDS
# overrides it; 0 computes them on every request). The page says when they were computed.
DASHBOARD_CACHE_SECONDS = 60


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
    """(spaces shown, first day, last day, space asked for, a function making the form to display) from
    the query string. What cannot be used is replaced by the default, with a message: a bad query string
    never fails the page. (The form to display is made only when the figures are rendered, not when they
    come from the cache.)"""
    zone = dashboard.reference_zone(spaces)
    today = localtime.local_date(timezone.now(), zone)
    selected, first, last = spaces, None, None
    space_id = None
    if request.GET:
        form = DashboardFilterForm(request.GET, spaces=spaces, today=today, with_space=with_space)
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
    shown = partial(
        DashboardFilterForm,
        spaces=spaces,
        today=today,
        with_space=with_space,
        initial={"space": space_id, "from": first, "to": last},
    )
    return selected, first, last, space_id, shown


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


# --- the long tables, written in Python ------------------------------------------------------------------
# Who is expected, the renewals and the arrears run to hundreds of rows in a busy space: through the
# template language each row costs a hundred microseconds or more (a {% url %}, filters, an include).
# Here each row is one string format with the labels, URLs and dates looked up once per table; the
# markup is what the template wrote (templates/admin/dashboard/_figures.html holds the tables around).


def _url_format(viewname: str) -> str:
    """The URL of an object's admin page with "{}" where the id goes (one reverse() per table)."""
    sentinel = 918273645
    return reverse(viewname, args=[sentinel]).replace(str(sentinel), "{}")


class _Dates:
    """date -> its SHORT_DATE_FORMAT in the active language, each distinct date formatted once."""

    def __init__(self) -> None:
        self._formatted: dict[date, str] = {}

    def __call__(self, day: date | None) -> str:
        if day is None:
            return ""
        text = self._formatted.get(day)
        if text is None:
            text = self._formatted[day] = escape(date_format(day, "SHORT_DATE_FORMAT"))
        return text


# The admin index lists at most this many rows per table (the soonest first); each space's page and its
# check-in list show them all. A network's index would otherwise carry hundreds of rows, most of a page
# that a manager opens every morning.
INDEX_ROWS = 25


def _more_row(hidden: int, columns: int, url: str, text: str) -> str:
    if hidden <= 0:
        return ""
    label = escape(text % {"count": localize(hidden)})
    link = f'<a href="{escape(url)}">{label}</a>' if url else label
    return f'<tr class="dashboard-more"><td colspan="{columns}">{link}</td></tr>'


def _more_text(count: int) -> str:
    return ngettext("and %(count)s more", "and %(count)s more", count)


def _shown(rows: list, limit: int | None) -> tuple[list, int]:
    if limit is None or len(rows) <= limit:
        return rows, 0
    return rows[:limit], len(rows) - limit


def _check_in_url(space: Space) -> str:
    return reverse("admin_dashboard_check_in", args=[space.pk])


def _space_page(spaces: list[Space]) -> str:
    """Where a table's other rows are: the space's page, or none for several spaces (each has its own)."""
    return reverse("admin_dashboard_space", args=[spaces[0].pk]) if len(spaces) == 1 else ""


def expected_rows(
    expected: list[dashboard.Expected], limit: int | None = None, more_url: str = ""
) -> SafeString:
    """The rows of a space's "who is expected today" table."""
    change = _url_format("admin:bookings_booking_change")
    expected, hidden = _shown(expected, limit)
    rows = []
    for booking in expected:
        if booking.is_slot:
            when = f"{booking.start_time:%H:%M}\u2013{booking.end_time:%H:%M}"  # an en dash, as _when.html
        else:
            when = escape(booking.part_label)
        company = f' <span class="quiet">({escape(booking.company)})</span>' if booking.company else ""
        rows.append(
            f"<tr><td>{when}</td>"
            f'<th scope="row">{escape(booking.member_name)}{company}</th>'
            f'<td><a href="{change.format(booking.booking_id)}">{escape(booking.resource_name)}</a></td></tr>'
        )
    rows.append(_more_row(hidden, 3, more_url, _more_text(hidden)))
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)


def renewal_rows(
    renewals: list[dashboard.Renewal], limit: int | None = None, more_url: str = ""
) -> SafeString:
    """The rows of the renewals table."""
    renewals, hidden = _shown(renewals, limit)
    change = _url_format("admin:billing_pass_change")
    dates = _Dates()
    unpriced = escape(_("cannot be priced"))
    sent = {True: escape(_("yes")), False: escape(_("no"))}
    rows = []
    for renewal in renewals:
        if renewal.expected_gross is None:
            expected = unpriced
        else:
            expected = escape(format_money(renewal.expected_gross, renewal.currency))
        rows.append(
            f"<tr><td>{dates(renewal.renews_on)}</td>"
            f'<th scope="row"><a href="{change.format(renewal.pass_id)}">'
            f"{escape(renewal.member_name)}</a></th>"
            f"<td>{escape(renewal.plan_name)}</td>"
            f'<td class="num">{escape(localize(renewal.period_number))}</td>'
            f"<td>{escape(renewal.status_label)}</td>"
            f'<td class="num">{expected}</td>'
            f"<td>{sent[renewal.notice_sent]}</td></tr>"
        )
    rows.append(_more_row(hidden, 7, more_url, _more_text(hidden)))
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)


def arrears_rows(data: dashboard.Dashboard, limit: int | None = None, more_url: str = "") -> SafeString:
    """The rows of the arrears table (with the space's name when the dashboard covers several)."""
    arrears, hidden = _shown(data.arrears, limit)
    invoices = reverse("admin:billing_invoice_changelist") + "?status__exact=issued&amp;q="
    names = {space.pk: escape(space.name) for space in data.spaces} if len(data.spaces) > 1 else {}
    dates = _Dates()
    rows = []
    for row in arrears:
        space = f" · {names[row.space_id]}" if row.space_id in names else ""
        rows.append(
            f'<tr><th scope="row">{escape(row.member_name)} '
            f'<span class="quiet">{escape(row.member_email)}</span>{space}</th>'
            f"<td>{escape(row.status_label)}</td>"
            f"<td>{dates(row.past_due_since) or '—'}</td>"
            f'<td class="num"><a href="{invoices}{escape(urlencode(row.member_email))}">'
            f"{escape(localize(row.unpaid_invoices))}</a></td>"
            f'<td class="num">{escape(format_money(row.balance, row.currency))}</td></tr>'
        )
    rows.append(_more_row(hidden, 5, more_url, _more_text(hidden)))
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)


# --- the dashboard's context, and its cache -----------------------------------------------------------


def cache_seconds() -> int:
    return getattr(settings, "DASHBOARD_CACHE_SECONDS", DASHBOARD_CACHE_SECONDS)


def _cache_key(request, spaces: list[Space], selected: list[Space], space_id, first, last, today, with_space):
    """Everything the rendered figures depend on: the language, every space the user runs (the filter
    lists them) and those shown, with the version token of each shown (bookings.availability_cache: it
    changes with every booking and cancellation there, so those show at once; invoices and payments
    within cache_seconds()), the filters, the day (the default period follows it), the page (the index
    has a space filter, a space's page has not) and whether the user sees the network's sign-ups
    (superusers). Two users with the same spaces see the same figures; no one else's."""
    parts = [
        get_language(),
        ",".join(str(space.pk) for space in spaces),
        ",".join(f"{space.pk}:{availability_version(space.pk)}" for space in selected),
        space_id,
        first,
        last,
        today,
        with_space,
        request.user.is_superuser,
    ]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"admin-dashboard:{digest}"


@dataclass(frozen=True)
class _Request:
    """What the query string asks of the dashboard, read once (with its messages), and the cache key of
    the figures it shows."""

    selected: list[Space]
    first: date | None
    last: date | None
    form: partial
    now: datetime
    zone: object
    key: str


def _read_request(request, spaces: list[Space], *, with_space: bool) -> _Request:
    selected, first, last, space_id, form = _filters(request, spaces, with_space=with_space)
    now = timezone.now()
    zone = dashboard.reference_zone(selected)
    today = localtime.local_date(now, zone)
    key = _cache_key(request, spaces, selected, space_id, first, last, today, with_space)
    return _Request(selected, first, last, form, now, zone, key)


def _dashboard_context(
    request, spaces: list[Space], *, with_space: bool, asked: _Request | None = None
) -> dict:
    """The dashboard's context: `dashboard_html`, the figures rendered (templates/admin/dashboard/
    _figures.html), which _dashboard.html writes out. They are kept in the cache for cache_seconds() under
    _cache_key() and say when they were computed ("figures as of 10:42"): a booking or a cancellation
    changes the key (the space's version token), an invoice or a payment shows once they are computed
    again, within that time.

    A request that computes them also puts what they were rendered from in the context (`dashboard`, the
    coworking.dashboard.Dashboard, `dashboard_charts`...); one served from the cache sets `dashboard` to
    True, all that templates/admin/index.html asks of it."""
    asked = asked or _read_request(request, spaces, with_space=with_space)
    seconds = cache_seconds()
    if seconds > 0:
        cached = cache.get(asked.key)
        if cached is not None:
            html, expires = cached
            safe = mark_safe(html)  # noqa: S308 (rendered below)
            return {"dashboard": True, "dashboard_html": safe, "dashboard_expires": expires}
    # The index shows the first rows of each list; a space's own page all of them.
    limit, more = (INDEX_ROWS, _space_page(asked.selected)) if with_space else (None, "")
    data = dashboard.dashboard(
        spaces=asked.selected,
        now=asked.now,
        first=asked.first,
        last=asked.last,
        include_signups=request.user.is_superuser,
    )
    context = {
        "dashboard": data,
        "dashboard_form": asked.form(),
        "dashboard_charts": dashboard_charts(data),
        "dashboard_expected": [
            (row, expected_rows(row.expected, limit, _check_in_url(row.space))) for row in data.by_space
        ],
        "dashboard_renewal_rows": renewal_rows(data.renewals, limit, more),
        "dashboard_arrears_rows": arrears_rows(data, limit, more),
        "renewal_days": dashboard.RENEWAL_DAYS,
        "dashboard_as_of": asked.now.astimezone(asked.zone).time() if seconds > 0 else None,
        "dashboard_cache_seconds": seconds,
    }
    html = render_to_string("admin/dashboard/_figures.html", context, request)
    expires = asked.now.timestamp() + seconds
    if seconds > 0:
        cache.set(asked.key, (str(html), expires), seconds)
    return {**context, "dashboard_html": html, "dashboard_expires": expires}


def _index_page_key(request, figures_key: str) -> str:
    """The whole index page of one user: the figures' key, plus what the page shows of the user (the
    name in the header, the app list their permissions allow, their recent actions, of which the
    latest is read, so that an action shows at once). A change of permissions shows within
    cache_seconds()."""
    latest_action = (
        LogEntry.objects.filter(user_id=request.user.pk).order_by("-pk").values_list("pk", flat=True).first()
    )
    parts = [figures_key, request.user.pk, latest_action, request.get_full_path()]
    return "admin-index:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def index(request):
    """The admin index: the dashboard of the spaces the user runs, then the usual list of apps.

    The page AdminSite.index builds (its template, title, app list), with the app list read once:
    AdminSite.index reads it for `app_list` and each_context() again for the navigation sidebar
    (`available_apps`), each time asking every registered admin for its permissions.

    The whole page is cached per user for cache_seconds() (bookings.page_cache: the CSRF token and the
    messages are put in on every request), since the admin's own index costs many times what serving the
    figures from the cache does: a manager reloading the page every few seconds at the front desk
    then costs little."""
    site = admin.site
    space_ids = space_ids_for(request)
    spaces = dashboard.spaces_for(user=request.user, space_ids=space_ids, only=dashboard.SPACE_KEY_FIELDS)

    def context(asked: _Request | None = None) -> dict:
        if spaces:
            extra = _dashboard_context(request, spaces, with_space=True, asked=asked)
        else:
            extra = {"dashboard_without_space": True}
        context = site.each_context(request)
        context.update(title=site.index_title, subtitle=None, app_list=context["available_apps"], **extra)
        return context

    request.current_app = site.name
    template = site.index_template or "admin/index.html"
    seconds = cache_seconds()
    if seconds <= 0 or not spaces:
        if spaces:  # the figures are computed here: they need every field of the spaces
            spaces = dashboard.spaces_for(user=request.user, space_ids=space_ids)
        return TemplateResponse(request, template, context())
    asked = _read_request(request, spaces, with_space=True)

    def render() -> tuple[str, float]:
        # The figures need every field of the spaces shown; the key only their ids, names and zones.
        full = {space.pk: space for space in dashboard.spaces_for(user=request.user, space_ids=space_ids)}
        page = context(replace(asked, selected=[full[space.pk] for space in asked.selected]))
        # No longer than the figures it shows, which say when they were computed.
        return page_cache.render_cacheable(request, template, page), page["dashboard_expires"]

    html = page_cache.get_or_render_until(
        request,
        _index_page_key(request, asked.key),
        timezone.now().timestamp(),
        render,
        messages_template="admin/_messages.html",
    )
    return HttpResponse(html)


def _space_or_404(request, space_id: int) -> Space:
    # A space the user does not run does not exist for them: 404, not 403, so ids reveal nothing.
    for space in dashboard.spaces_for(user=request.user, space_ids=space_ids_for(request)):
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
