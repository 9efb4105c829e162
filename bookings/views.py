import functools
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import pricing
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import CreditKind
from bookings import hooks, ical, page_cache, selectors, services
from bookings.availability_cache import availability_version, setup_version
from bookings.errors import BookingError
from bookings.forms import DayPassForm, RoomBookingForm, parse_choice, parse_day
from bookings.models import Booking, CalendarFeed, DayPart
from bookings.templatetags.availability_grid import render_grid, state_label
from spaces import localtime
from spaces import selectors as space_selectors
from spaces.models import Resource, Zone

PAGE_TIMEOUT = 600
GRID_MARKER = "<!--availability-grid-->"


def _space_or_404(slug: str):
    space = space_selectors.active_space_by_slug(slug)
    if space is None:
        raise Http404
    return space


def _today_bucket(space, day, now) -> int:
    # Today's cells turn "past" as the day goes on: a cached today is good for half an hour at most.
    return int(now.timestamp() // 1800) if day == localtime.local_date(now, space.tz) else 0


def _grid_html(space, day, now, version: str) -> str:
    """The availability grid as nobody in particular sees it, cached under the space's version token."""
    key = (
        f"availability:grid:{space.pk}:{version}:{day.isoformat()}:{translation.get_language()}:"
        f"{_today_bucket(space, day, now)}"
    )
    html = cache.get(key) if settings.AVAILABILITY_CACHE else None
    if html is None:
        availability = selectors.availability_for_day(space=space, day=day, now=now)
        html = render_grid(availability, space)
        if settings.AVAILABILITY_CACHE:
            cache.set(key, html, PAGE_TIMEOUT)
    return html


def _mark_own(html: bytes, booking_ids: set[int]) -> bytes:
    """Turn the signed-in member's taken cells into "yours" (the cached page is the same for everyone)."""
    if not booking_ids:
        return html
    taken, yours = state_label(gettext_noop("Taken")), state_label(gettext_noop("Yours"))
    for booking_id in booking_ids:
        html = html.replace(
            f'class="cell taken" data-booking="{booking_id}"><span class="state">{taken}</span>'.encode(),
            f'class="cell yours" data-booking="{booking_id}"><span class="state">{yours}</span>'.encode(),
        )
    return html


def _audience(user) -> str:
    # The only differences between visitors' pages besides their own cells: the navigation and the
    # "sign in to book" notice.
    if not user.is_authenticated:
        return "anonymous"
    return "staff" if user.is_staff else "member"


@require_GET
def availability(request, slug: str):
    space = _space_or_404(slug)
    now = timezone.now()
    today = localtime.local_date(now, space.tz)
    last_day = today + timedelta(days=space.booking_window_days)
    raw_day = request.GET.get("date")
    day = parse_day(raw_day, today)
    if day is None:
        messages.error(request, _("This date is not valid."))
        day = today
    elif day < today:
        messages.info(request, _("Past days cannot be booked: here is today."))
        day = today
    elif day > last_day:
        messages.info(
            request,
            _("Bookings open %(days)s days ahead: here is the last day you can book.")
            % {"days": space.booking_window_days},
        )
        day = last_day
    version = availability_version(space.pk)
    template = "bookings/_availability.html" if request.htmx else "bookings/availability.html"
    # Everything on the page but the grid depends on the space's setup, not on its bookings: that
    # shell is cached under the setup version, so the first request after a booking renders only the
    # grid (whose rows without bookings are memoised too).
    who = (
        day.isoformat(),
        today.isoformat(),
        translation.get_language(),
        template,
        _audience(request.user),
        raw_day or "",
    )

    def shell() -> str:
        context = {
            "space": space,
            "day": day,
            "today": today,
            "last_day": last_day,
            "grid": mark_safe(GRID_MARKER),  # noqa: S308 - a constant comment
            "previous_day": day - timedelta(days=1) if day > today else None,
            "next_day": day + timedelta(days=1) if day < last_day else None,
        }
        return page_cache.render_cacheable(request, template, context)

    def frame() -> str:
        if not cacheable:
            return shell()
        key = ":".join(("availability:shell", str(space.pk), setup_version(space.pk), *who))
        return page_cache.cached_text(key, PAGE_TIMEOUT, shell)

    def page() -> str:
        return frame().replace(GRID_MARKER, _grid_html(space, day, now, version), 1)

    # The usual request (no made-up parameters, no date to correct) may be cached; anything else is
    # rendered and not stored, so that made-up URLs cannot fill the cache.
    cacheable = set(request.GET) <= {"date"} and raw_day in (None, day.isoformat())
    if settings.AVAILABILITY_CACHE and cacheable:
        # The whole page, keyed by everything it shows that is not the same for everyone (the path
        # appears in the language switcher and the sign-in link) and by the bookings' version.
        key = ":".join(
            ("availability:page", str(space.pk), version, str(_today_bucket(space, day, now)), *who)
        )
        html = page_cache.get_or_render(request, key, PAGE_TIMEOUT, page)
    else:
        # Only the shell is split at its placeholders; the grid (100+ KB) goes in between as it is.
        before, _marker, after = frame().partition(GRID_MARKER)
        grid = _grid_html(space, day, now, version)
        html = page_cache.personalise(request, page_cache.split(before)) + grid.encode()
        html += page_cache.personalise(request, page_cache.split(after))
    if request.user.is_authenticated:
        html = _mark_own(html, _own_booking_ids(request.user.pk, space, day, version))
    return HttpResponse(html)


def _own_booking_ids(member_id: int, space, day, version: str) -> set[int]:
    # Under the same version token as the page: any booking or cancellation at the space changes it.
    if not settings.AVAILABILITY_CACHE:
        return selectors.member_booking_ids_on(member_id=member_id, space=space, day=day)
    key = f"availability:own:{space.pk}:{version}:{day.isoformat()}:{member_id}"
    ids = cache.get(key)
    if ids is None:
        ids = selectors.member_booking_ids_on(member_id=member_id, space=space, day=day)
        cache.set(key, ids, PAGE_TIMEOUT)
    return ids


@functools.lru_cache(maxsize=1024)
def _availability_path(slug: str, prefix: str, urlconf: str | None) -> str:
    return reverse("bookings:availability", kwargs={"slug": slug}, urlconf=urlconf)


def _availability_url(space, day) -> str:
    # Every booking POST redirects here: the path is reversed once per space (and script prefix).
    path = _availability_path(space.slug, get_script_prefix(), get_urlconf())
    return f"{path}?date={day.isoformat()}"


@functools.lru_cache(maxsize=512)
def _day_label(day, language: str) -> str:
    return date_format(day, "DATE_FORMAT")  # in the active language, part of the key


def _success_message(booking: Booking) -> str:
    when = _day_label(booking.local_date, get_language())
    if booking.part == "slot":
        tz = booking.space.tz
        when += f" {booking.start.astimezone(tz):%H:%M}-{booking.end.astimezone(tz):%H:%M}"
    else:
        when += " (" + str(DayPart(booking.part).label).lower() + ")"
    return _("Booked: %(resource)s, %(when)s. A confirmation e-mail is on its way.") % {
        "resource": booking.resource.name,
        "when": when,
    }


@login_required
@require_POST
def book(request, slug: str):
    space = _space_or_404(slug)
    data = parse_choice(request.POST)
    if data is None:
        messages.error(request, _("This request is not valid."))
        return HttpResponseRedirect(
            _availability_url(
                space,
                parse_day(request.POST.get("date"), None) or localtime.local_date(timezone.now(), space.tz),
            )
        )
    now = timezone.now()
    try:
        booking = _book_choice(request.user, space, data, now)
    except BookingError as error:
        if error.code == "not_entitled" and data["kind"] in {"desk", "zone"}:
            # No pass and no credit: offer a day pass, then complete this very booking.
            query = urlencode({"date": data["date"].isoformat(), "choice": request.POST["choice"]})
            return redirect(f"{reverse('bookings:day_pass', kwargs={'slug': space.slug})}?{query}")
        messages.error(request, error.message)
    else:
        messages.success(request, _success_message(booking))
    # Not redirect(): it would first try the URL as a view name to reverse.
    return HttpResponseRedirect(_availability_url(space, data["date"]))


def _book_choice(user, space, data, now) -> Booking:
    """Books what a grid button (forms.parse_choice) asks for."""
    if data["kind"] == "zone":
        zone = get_object_or_404(Zone, pk=data["target_id"], space=space)
        return services.booking_create_any_desk(
            member=user, zone=zone, day=data["date"], part=data["part"], now=now
        )
    resource = selectors.resource_of_space(space, data["target_id"])
    if resource is None:
        raise Http404
    if data["kind"] == "desk":
        slot = services.desk_slot(resource=resource, day=data["date"], part=data["part"])
    else:
        slot = services.room_slot(
            resource=resource, day=data["date"], start_time=data["start_time"], end_time=data["end_time"]
        )
    return services.booking_create(member=user, slot=slot, now=now)


@login_required
@require_http_methods(["GET", "POST"])
def day_pass(request, slug: str):
    """A member without a pass or credit who chose a desk: buy a day pass for that day and book it, in
    one transaction (if the desk is taken meanwhile, nothing is bought)."""
    space = _space_or_404(slug)
    data = parse_choice(request.POST if request.method == "POST" else request.GET)
    if data is None or data["kind"] not in {"desk", "zone"}:
        messages.error(request, _("This request is not valid."))
        return redirect(_availability_url(space, localtime.local_date(timezone.now(), space.tz)))
    plans = billing_selectors.day_pass_plans(space=space)
    form = DayPassForm(request.POST or None, plans=plans)
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        try:
            with transaction.atomic():
                day_pass = billing_services.pass_purchase(
                    member=request.user, plan=form.cleaned_data["plan"], start=data["date"], now=now
                )
                booking = _book_choice(request.user, space, data, now)
        except (BookingError, billing_services.BillingError) as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _success_message(booking))
            unpaid = billing_selectors.card_payable_invoice(
                member_id=request.user.pk, idempotency_key=f"purchase:{day_pass.pk}"
            )
            if unpaid is not None:  # card payments on, and no saved card paid it already
                return redirect("billing:invoice_pay", number=unpaid.number)
            messages.info(request, _("Your day pass invoice is in your account."))
            return redirect(_availability_url(space, data["date"]))
    vat = billing_services.vat_fraction(space)
    offers = [{"plan": plan, "gross": pricing.quote(plan.terms(), vat_rate=vat).gross} for plan in plans]
    return render(
        request,
        "bookings/day_pass.html",
        {
            "space": space,
            "form": form,
            "offers": offers,
            "day": data["date"],
            "choice_value": request.POST.get("choice") or request.GET.get("choice"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def book_room(request, slug: str, resource_id: int):
    space = _space_or_404(slug)
    room = get_object_or_404(
        Resource.objects.select_related("space"), pk=resource_id, space=space, is_active=True
    )
    if room.is_desk:
        raise Http404
    today = localtime.local_date(timezone.now(), space.tz)
    initial = {"date": parse_day(request.GET.get("date"), today) or today}
    form = RoomBookingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            slot = services.room_slot(
                resource=room, day=data["date"], start_time=data["start_time"], end_time=data["end_time"]
            )
            booking = services.booking_create(member=request.user, slot=slot, now=timezone.now())
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _success_message(booking))
            charge = billing_selectors.card_payable_invoice(
                member_id=request.user.pk, idempotency_key=f"booking:{booking.pk}:charge"
            )
            if charge is not None:  # pay-per-use hours beyond the plan: pay them by card now
                return redirect("billing:invoice_pay", number=charge.number)
            return redirect(_availability_url(space, data["date"]))
    included = billing_selectors.credit_summary(member_id=request.user.pk, space=space, day=today)
    return render(
        request,
        "bookings/book_room.html",
        {
            "space": space,
            "room": room,
            "form": form,
            "included_hours": Decimal(included[CreditKind.ROOM_MINUTES]) / 60,
        },
    )


@login_required
@require_GET
def my_bookings(request):
    now = timezone.now()
    upcoming = list(selectors.upcoming_bookings(member_id=request.user.pk, now=now)[:200])
    for booking in upcoming:
        booking.cancellable = services.can_cancel(booking, now=now)
    past = Paginator(selectors.past_bookings(member_id=request.user.pk, now=now), 20).get_page(
        request.GET.get("page")
    )
    feed = CalendarFeed.objects.filter(member=request.user).first()
    feed_url = request.build_absolute_uri(reverse("bookings:feed", args=[feed.token])) if feed else None
    return render(
        request, "bookings/my_bookings.html", {"upcoming": upcoming, "past": past, "feed_url": feed_url}
    )


def _own_booking(request, booking_id: int) -> Booking:
    # Another member's booking does not exist for this member: 404, never 403.
    return get_object_or_404(
        Booking.objects.select_related("space", "resource"), pk=booking_id, member=request.user
    )


@login_required
@require_POST
def cancel(request, booking_id: int):
    booking = _own_booking(request, booking_id)
    try:
        services.booking_cancel(booking=booking, by=request.user, now=timezone.now())
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your booking is cancelled; the slot is free again."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("bookings:mine")
    return redirect(target)


@login_required
@require_GET
def booking_ics(request, booking_id: int):
    booking = _own_booking(request, booking_id)
    response = HttpResponse(
        ical.calendar_for([booking], name=booking.space.name), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="booking-{booking.pk}.ics"'
    return response


@require_GET
def feed(request, token: str):
    calendar = CalendarFeed.objects.filter(token=token).select_related("member").first()
    if calendar is None or not calendar.member.is_active:
        raise Http404
    since = timezone.now() - timedelta(days=90)
    bookings = (
        selectors.member_bookings(member_id=calendar.member_id).filter(end__gte=since).order_by("start")[:500]
    )
    response = HttpResponse(
        ical.calendar_for(
            bookings,
            name=_("My coworking bookings"),
            extra=hooks.feed_components(member_id=calendar.member_id, since=since),
        ),
        content_type="text/calendar; charset=utf-8",
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_POST
def regenerate_feed(request):
    exists = CalendarFeed.objects.filter(member=request.user).exists()
    services.calendar_feed_token(member=request.user, regenerate=True)
    if exists:
        messages.success(request, _("Your calendar link has been replaced: the old one no longer works."))
    return redirect("bookings:mine")
