"""The same races through HTTP against the live server (a threaded WSGI server in this process): 16 signed-in
members' browsers, reduced to cookies over http.client, POST the availability grid's form 5 times each, all
at once. Every response is the redirect, never a 5xx; the page it leads to shows exactly one success among
all of them and a clean conflict message for every other; the database holds one booking."""

import html
import http.client
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from bookings.errors import BookingError
from bookings.models import Booking
from tests.concurrency.conftest import ATTEMPTS, ROOM_RANGES, THREADS, hammer, postgres_only

pytestmark = pytest.mark.django_db(transaction=True)
TOTAL = THREADS * ATTEMPTS
LANGUAGE = "en"
CODES = ("slot_taken", "member_has_desk")
MESSAGE = re.compile(r'<p class="message ([^"]*)">(.*?)</p>', re.DOTALL)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class HTTPFailure(Exception):
    pass


class Browser:
    """One member's browser: a cookie jar, one connection per request, redirects not followed."""

    def __init__(self, base_url: str, session_key: str):
        url = urlsplit(base_url)
        self.host, self.port = url.hostname, url.port
        self.cookies = {settings.SESSION_COOKIE_NAME: session_key, settings.LANGUAGE_COOKIE_NAME: LANGUAGE}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str | None, str]:
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    if morsel.value == "" or morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.coded_value
            return response.status, response.getheader("Location"), content
        finally:
            connection.close()

    def get_page(self, path: str) -> str:
        status, _location, content = self.request("GET", path)
        if status != 200:
            raise HTTPFailure(f"GET {path}: {status}")
        return content


def _session_key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _plan(scenario: str, place, members) -> list[tuple[object, list[str]]]:
    """For each thread: who posts, and the grid buttons (`choice`) it presses, one per round in turn."""
    _space, desks, room = place
    if scenario == "desk_day":
        return [(members[index], [f"desk:{desks[0].pk}:full_day"]) for index in range(THREADS)]
    if scenario == "room_ranges":
        ranges = [f"room:{room.pk}:{start:%H:%M}-{end:%H:%M}" for start, end in ROOM_RANGES]
        return [(members[index], ranges[index:] + ranges[:index]) for index in range(THREADS)]
    if scenario == "member_desks":
        # One member signed in on 16 devices, each pressing a different desk.
        return [(members[0], [f"desk:{desks[index].pk}:full_day"]) for index in range(THREADS)]
    raise AssertionError(scenario)


EXPECTED = {
    "desk_day": {"booked": 1, "slot_taken": TOTAL - 1},
    "room_ranges": {"booked": 1, "slot_taken": TOTAL - 1},
    "member_desks": {"booked": 1, "slot_taken": ATTEMPTS - 1, "member_has_desk": TOTAL - ATTEMPTS},
}


def _http_hammer(scenario: str, live_server, place, members, day, **options):
    space = place[0]
    availability = f"{reverse('bookings:availability', kwargs={'slug': space.slug})}?date={day.isoformat()}"
    book = reverse("bookings:book", kwargs={"slug": space.slug})
    plan = [(_session_key(user), choices) for user, choices in _plan(scenario, place, members)]
    with translation.override(LANGUAGE):
        code_by_message = {BookingError(code).message: code for code in CODES}

    def prepare(index):
        session_key, choices = plan[index]
        browser = Browser(live_server.url, session_key)
        token = CSRF_INPUT.search(browser.get_page(availability)).group(1)
        return browser, token, choices

    def attempt(state, index, round_):
        browser, token, choices = state
        form = {
            "date": day.isoformat(),
            "choice": choices[round_ % len(choices)],
            "csrfmiddlewaretoken": token,
        }
        status, location, _content = browser.request("POST", book, form)
        if status != 302:
            raise HTTPFailure(f"POST {book}: {status}")
        shown = [(tags, html.unescape(text)) for tags, text in MESSAGE.findall(browser.get_page(location))]
        if len(shown) != 1:
            raise HTTPFailure(f"expected one message, got {shown}")
        tags, text = shown[0]
        if "success" in tags.split():
            return "booked"
        return code_by_message.get(text, f"unexpected message ({tags}): {text}")

    return hammer(attempt, prepare=prepare, **options)


@pytest.mark.parametrize("scenario", ["desk_day", "room_ranges", "member_desks"])
def test_the_http_hammer_books_exactly_once(scenario, live_server, place, members, day, race_window):
    outcome = _http_hammer(scenario, live_server, place, members, day)

    assert outcome.errors == []
    assert dict(outcome.labels) == EXPECTED[scenario]
    assert Booking.objects.active().count() == 1


@postgres_only
def test_control_http_without_the_guard_the_hammer_double_books(
    live_server, place, members, day, without_guard
):
    """The guard bypassed as in the service-level control: every member of the first round is told "Booked",
    so the assertions above can fail."""
    outcome = _http_hammer(
        "desk_day", live_server, place, members, day, before_each_round=without_guard.new_round
    )

    assert outcome.errors == []
    assert dict(outcome.labels) == {"booked": THREADS, "slot_taken": TOTAL - THREADS}
    assert Booking.objects.active().count() == THREADS
