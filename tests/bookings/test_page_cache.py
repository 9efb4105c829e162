"""The availability page's whole-page cache: what a hit must still get right for the one asking.

Every test commits for real (transaction=True): cached entries are invalidated on commit.
"""

import re
from datetime import date

import pytest
import time_machine
from django.test import Client

from bookings import page_cache
from tests.bookings.conftest import NOW
from tests.factories import ClosureFactory, ManagerFactory

pytestmark = pytest.mark.django_db(transaction=True)
TUESDAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _empty_local_pages():
    page_cache.local_pages.clear()
    yield
    page_cache.local_pages.clear()


def url(space, day=TUESDAY):
    return f"/spaces/{space.slug}/availability/?date={day.isoformat()}"


def html_of(client, space, day=TUESDAY):
    response = client.get(url(space, day))
    assert response.status_code == 200
    return response.content.decode()


def test_a_closure_added_after_the_page_was_cached_shows_at_once(client, desk):
    assert f'value="desk:{desk.pk}:full_day"' in html_of(client, desk.space)
    ClosureFactory(space=desk.space, start_date=TUESDAY, end_date=TUESDAY, reason="Travaux")
    html = html_of(client, desk.space)
    assert "Travaux" in html
    assert f'value="desk:{desk.pk}:full_day"' not in html


def test_a_desk_withdrawn_after_the_page_was_cached_disappears(client, desk, desk2):
    assert "Bureau 02" in html_of(client, desk.space)
    desk2.is_active = False
    desk2.save()
    assert "Bureau 02" not in html_of(client, desk.space)


def test_a_renamed_or_deactivated_space_stops_answering_from_the_cache(client, desk):
    space = desk.space
    old_url = url(space)
    assert client.get(old_url).status_code == 200
    space.slug = "canal-saint-martin"
    space.save()
    assert client.get(old_url).status_code == 404
    assert client.get(url(space)).status_code == 200
    space.is_active = False
    space.save()
    assert client.get(url(space)).status_code == 404


def test_a_hit_carries_the_requesters_own_working_csrf_token(camille, desk):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(camille)
    Client().get(url(desk.space))  # somebody else renders and caches the page first
    html = html_of(browser, desk.space)
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    assert len(tokens) == 1
    assert page_cache.CSRF_PLACEHOLDER not in html
    response = browser.post(
        f"/spaces/{desk.space.slug}/book/",
        {
            "date": TUESDAY.isoformat(),
            "choice": f"desk:{desk.pk}:full_day",
            "csrfmiddlewaretoken": tokens.pop(),
        },
    )
    assert response.status_code == 302  # accepted by the CSRF check, then booked
    assert desk.bookings.filter(member=camille).exists()


def test_messages_appear_on_a_cached_page_and_only_once(client, camille, yanis, desk):
    client.force_login(camille)
    html_of(client, desk.space)  # cached for members
    client.post(
        f"/spaces/{desk.space.slug}/book/", {"date": TUESDAY.isoformat(), "choice": f"desk:{desk.pk}:morning"}
    )
    html = html_of(client, desk.space)
    assert 'class="message success"' in html
    assert 'class="message' not in html_of(client, desk.space)
    assert page_cache.MESSAGES_MARKER not in html


def test_visitors_members_and_staff_each_get_their_own_navigation(client, camille, desk):
    anonymous = html_of(Client(), desk.space)
    client.force_login(camille)
    member = html_of(client, desk.space)
    manager = ManagerFactory()
    staff_client = Client()
    staff_client.force_login(manager)
    staff = html_of(staff_client, desk.space)
    assert "/accounts/logout/" not in anonymous
    assert "/accounts/login/" in anonymous
    assert "/accounts/logout/" in member
    assert "/admin/" not in member
    assert "/admin/" in staff
    assert "/accounts/logout/" not in html_of(Client(), desk.space)  # still the visitors' page


def test_another_members_cells_are_never_marked_as_mine(client, camille, yanis, desk):
    client.force_login(camille)
    client.post(
        f"/spaces/{desk.space.slug}/book/",
        {"date": TUESDAY.isoformat(), "choice": f"desk:{desk.pk}:full_day"},
    )
    assert 'class="cell yours"' in html_of(client, desk.space)
    other = Client()
    other.force_login(yanis)
    html = html_of(other, desk.space)
    assert 'class="cell yours"' not in html
    assert 'class="cell taken"' in html


def test_made_up_query_strings_are_served_but_not_stored(client, desk):
    from django.core.cache import cache

    cache.clear()
    for n in range(5):
        assert client.get(url(desk.space) + f"&junk={n}").status_code == 200
    assert len(page_cache.local_pages._entries) == 0


def test_the_local_level_keeps_only_its_most_recent_pages():
    lru = page_cache.LocalLRU(2)
    for key in "abc":
        lru.put(key, (key.encode(),))
    assert lru.get("a") is None
    assert lru.get("c") == (b"c",)
    off = page_cache.LocalLRU(0)
    off.put("a", (b"a",))
    assert off.get("a") is None


@pytest.mark.parametrize("page_cache_on", [True, False])
def test_with_or_without_the_page_cache_bookings_and_setup_changes_show_at_once(
    client, desk, desk2, camille, settings, page_cache_on
):
    """Without the page cache (B1c: the first request after a booking), the page still comes from the
    setup cache and memoised rows: a booking, a rename and a closure all show on the next request."""
    from bookings import services

    settings.AVAILABILITY_CACHE = page_cache_on
    html = html_of(client, desk.space)
    assert html.count('class="cell free"') == 4
    booking = services.booking_create(
        member=camille, slot=services.desk_slot(resource=desk, day=TUESDAY, part="morning"), now=NOW
    )
    html = html_of(client, desk.space)
    assert f'data-booking="{booking.pk}"' in html
    assert html.count('class="cell free"') == 3
    desk2.name = "Bureau fenêtre"
    desk2.save()
    assert "Bureau fenêtre" in html_of(client, desk.space)
    ClosureFactory(space=desk.space, start_date=TUESDAY, end_date=TUESDAY, reason="Inventaire")
    html = html_of(client, desk.space)
    assert "Inventaire" in html
    assert 'class="cell free"' not in html
