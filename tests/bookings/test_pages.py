"""The availability page, booking from it, My bookings, and the cached grid never going stale."""

from datetime import date, timedelta

import pytest
import time_machine

from bookings.models import Booking, BookingStatus
from tests.bookings.conftest import NOW
from tests.factories import BookingFactory, ClosureFactory, ResourceFactory, UserFactory

TUESDAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def page(client, space, day=TUESDAY):
    return client.get(f"/spaces/{space.slug}/availability/?date={day.isoformat()}")


def book(client, space, choice, day=TUESDAY):
    return client.post(
        f"/spaces/{space.slug}/book/", {"date": day.isoformat(), "choice": choice}, follow=True
    )


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_the_availability_page_shows_free_desks_and_room_slots(client, desk, room):
    html = page(client, desk.space).content.decode()
    assert "Bureau 01" in html
    assert "Salle Jacquard" in html
    assert f'value="desk:{desk.pk}:full_day"' in html
    assert f'value="room:{room.pk}:08:30-09:30"' in html
    assert "Connectez-vous" in html  # anonymous visitors are invited to sign in


def test_the_page_defaults_to_today_in_the_space_zone(client, desk):
    html = client.get(f"/spaces/{desk.space.slug}/availability/").content.decode()
    assert 'value="2026-11-23"' in html
    assert "aujourd" in html


def test_a_member_books_a_desk_and_sees_it_as_theirs(client, camille, desk):
    client.force_login(camille)
    response = book(client, desk.space, f"desk:{desk.pk}:full_day")
    assert any("Réservé" in message for message in messages_of(response))
    assert 'class="cell yours"' in response.content.decode()
    assert Booking.objects.get().member == camille


def test_an_anonymous_visitor_cannot_book(client, desk):
    response = client.post(
        f"/spaces/{desk.space.slug}/book/", {"date": "2026-11-24", "choice": f"desk:{desk.pk}:full_day"}
    )
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert not Booking.objects.exists()


def test_booking_a_taken_desk_shows_a_clear_message(client, camille, yanis, desk):
    BookingFactory(resource=desk, member=yanis, day=TUESDAY)
    client.force_login(camille)
    response = book(client, desk.space, f"desk:{desk.pk}:morning")
    assert "Désolé, ce créneau vient d'être pris. Choisissez-en un autre." in messages_of(response)
    assert Booking.objects.count() == 1


def test_the_message_is_in_english_for_an_english_speaker(client, camille, yanis, desk):
    BookingFactory(resource=desk, member=yanis, day=TUESDAY)
    client.force_login(camille)
    client.cookies["django_language"] = "en"
    response = book(client, desk.space, f"desk:{desk.pk}:morning")
    assert "Sorry, this slot has just been taken. Please choose another one." in messages_of(response)


@pytest.mark.django_db(transaction=True)  # real commits, so the on-commit cache invalidation runs
def test_the_cached_grid_is_never_stale_after_a_booking_or_a_cancellation(client, camille, yanis, desk):
    other = type(client)()
    other.force_login(yanis)
    assert f'value="desk:{desk.pk}:full_day"' in page(other, desk.space).content.decode()  # now cached
    client.force_login(camille)
    book(client, desk.space, f"desk:{desk.pk}:full_day", day=date(2026, 11, 26))
    book(client, desk.space, f"desk:{desk.pk}:full_day")
    html = page(other, desk.space).content.decode()
    assert f'value="desk:{desk.pk}:full_day"' not in html
    assert 'class="cell taken"' in html
    booking = Booking.objects.get(local_date=date(2026, 11, 26))
    assert 'class="cell taken"' in page(other, desk.space, date(2026, 11, 26)).content.decode()
    client.post(f"/bookings/{booking.pk}/cancel/")
    assert f'value="desk:{desk.pk}:full_day"' in page(other, desk.space, date(2026, 11, 26)).content.decode()


def test_any_free_desk_books_one_for_the_member(client, camille, desk, desk2):
    client.force_login(camille)
    response = book(client, desk.space, f"zone:{desk.zone_id}:full_day")
    assert Booking.objects.get().resource == desk
    assert 'class="cell yours"' in response.content.decode()


def test_a_room_slot_is_booked_from_the_grid(client, camille, room):
    client.force_login(camille)
    book(client, room.space, f"room:{room.pk}:10:30-11:30")
    booking = Booking.objects.get()
    assert booking.part == "slot"
    assert (booking.end - booking.start) == timedelta(hours=1)


def test_the_room_form_books_a_custom_range_and_explains_refusals(client, camille, room):
    client.force_login(camille)
    url = f"/spaces/{room.space.slug}/rooms/{room.pk}/book/"
    response = client.post(url, {"date": "2026-11-24", "start_time": "10:15", "end_time": "11:00"})
    assert "Les réservations commencent et finissent à l&#x27;heure pile" in response.content.decode()
    response = client.post(url, {"date": "2026-11-24", "start_time": "10:00", "end_time": "12:30"})
    assert response.status_code == 302
    assert Booking.objects.get().end.astimezone(room.space.tz).hour == 12


def test_closed_days_are_shown_as_closed(client, desk):
    ClosureFactory(space=desk.space, start_date=TUESDAY, end_date=TUESDAY, reason="Inventaire")
    html = page(client, desk.space).content.decode()
    assert "Inventaire" in html
    assert f'value="desk:{desk.pk}:' not in html


def test_days_outside_the_booking_window_cannot_be_chosen(client, desk):
    last = NOW.date() + timedelta(days=desk.space.booking_window_days)
    html = page(client, desk.space, last + timedelta(days=5)).content.decode()
    assert f'value="{last.isoformat()}"' in html
    assert f'max="{last.isoformat()}"' in html
    assert 'rel="next"' not in html
    html = page(client, desk.space, NOW.date() - timedelta(days=3)).content.decode()
    assert 'value="2026-11-23"' in html
    assert 'rel="prev"' not in html


def test_switching_day_with_htmx_returns_only_the_availability_section(client, desk):
    response = client.get(
        f"/spaces/{desk.space.slug}/availability/?date=2026-11-25", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="availability"')
    assert "<html" not in html


@pytest.mark.parametrize("bad", ["2026-13-01", "demain", "", "2026-11-24T10:00"])
def test_a_malformed_date_falls_back_to_today_with_a_message(client, desk, bad):
    response = client.get(f"/spaces/{desk.space.slug}/availability/?date={bad}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "choice",
    [
        "desk:abc:full_day",
        "desk:1:evening",
        "room:1:25:00-26:00",
        "room:1:10:00",
        "shelf:1:full_day",
        "desk:999999:full_day",
        "",
        "desk:1:full_day:extra:stuff:toolong",
    ],
)
def test_malformed_booking_requests_get_a_message_or_a_404_never_a_500(client, camille, desk, choice):
    client.force_login(camille)
    response = client.post(f"/spaces/{desk.space.slug}/book/", {"date": "2026-11-24", "choice": choice})
    assert response.status_code in {302, 404}
    assert not Booking.objects.exists()


def test_my_bookings_lists_upcoming_and_past_with_cancel_buttons_where_allowed(client, camille, desk):
    soon = BookingFactory(resource=desk, member=camille, day=TUESDAY)
    later = BookingFactory(resource=desk, member=camille, day=date(2026, 11, 27))
    BookingFactory(resource=desk, member=camille, day=date(2026, 11, 20))
    client.force_login(camille)
    html = client.get("/bookings/").content.decode()
    assert f"/bookings/{later.pk}/cancel/" in html
    assert f"/bookings/{soon.pk}/cancel/" not in html  # inside the 24 h cut-off
    assert "Délai d'annulation dépassé" in html
    assert "ven 20 nov 2026" in html


def test_cancelling_from_my_bookings_keeps_it_in_history(client, camille, desk):
    booking = BookingFactory(resource=desk, member=camille, day=date(2026, 11, 27))
    client.force_login(camille)
    client.post(f"/bookings/{booking.pk}/cancel/")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    html = client.get("/bookings/").content.decode()
    assert "Annulée" in html


@pytest.mark.django_db(transaction=True)  # the e-mail task is sent on commit
def test_the_manager_cancels_from_the_admin_with_a_reason(client, camille, desk, mailoutbox):
    from tests.factories import ManagerFactory

    booking = BookingFactory(resource=desk, member=camille, day=TUESDAY)
    mailoutbox.clear()
    client.force_login(ManagerFactory(spaces=[desk.space]))
    form = {"action": "cancel_with_reason", "_selected_action": [booking.pk]}
    response = client.post("/admin/bookings/booking/", form)
    assert "reason" in response.content.decode()
    client.post("/admin/bookings/booking/", {**form, "reason": "Coupure d'électricité"})
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert "Coupure d'électricité" in mailoutbox[-1].body


def test_a_manager_of_another_space_sees_none_of_its_bookings_in_the_admin(client, camille, desk):
    from tests.factories import ManagerFactory, SpaceFactory

    booking = BookingFactory(resource=desk, member=camille, day=TUESDAY)
    client.force_login(ManagerFactory(spaces=[SpaceFactory()]))
    assert booking.resource.name not in client.get("/admin/bookings/booking/").content.decode()
    assert client.get(f"/admin/bookings/booking/{booking.pk}/change/").status_code == 302


class TestAuthorization:
    """Member B on every booking URL of member A: 404, and nothing changes."""

    @pytest.fixture
    def bookings_of_a(self, camille, desk):
        return BookingFactory(resource=desk, member=camille, day=date(2026, 11, 27))

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("post", "/bookings/{pk}/cancel/"),
            ("get", "/bookings/{pk}.ics"),
        ],
    )
    def test_another_member_gets_404(self, client, yanis, bookings_of_a, method, path):
        client.force_login(yanis)
        response = getattr(client, method)(path.format(pk=bookings_of_a.pk))
        assert response.status_code == 404
        bookings_of_a.refresh_from_db()
        assert bookings_of_a.status == BookingStatus.CONFIRMED

    def test_my_bookings_never_lists_another_members_bookings(self, client, yanis, bookings_of_a):
        client.force_login(yanis)
        assert f"/bookings/{bookings_of_a.pk}" not in client.get("/bookings/").content.decode()

    def test_the_grid_marks_only_the_viewers_own_bookings(self, client, yanis, desk, bookings_of_a):
        client.force_login(yanis)
        html = page(client, desk.space, date(2026, 11, 27)).content.decode()
        assert 'class="cell yours"' not in html
        assert 'class="cell taken"' in html


@pytest.mark.parametrize(("desks", "past"), [(10, 10), (300, 10), (10, 10_000)])
def test_availability_and_my_bookings_run_a_fixed_number_of_queries(
    client, camille, paris, open_space, desks, past, django_assert_max_num_queries
):
    """B2: the query count does not depend on the number of desks or past bookings."""
    ResourceFactory.create_batch(desks, zone=open_space)
    first = open_space.resources.first()
    BookingFactory.create_past_batch(past, resource=first, member=camille)
    client.force_login(camille)
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(10):
        assert page(client, paris).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/bookings/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/bookings/?page=3").status_code == 200


def test_a_member_who_never_signed_in_cannot_see_my_bookings(client):
    assert client.get("/bookings/").status_code == 302


def test_an_inactive_or_unknown_space_is_404(client, desk):
    assert client.get("/spaces/nowhere/availability/").status_code == 404
    desk.space.is_active = False
    desk.space.save()
    assert page(client, desk.space).status_code == 404


def test_a_member_without_a_name_is_asked_to_complete_the_profile(client, desk):
    client.force_login(UserFactory())
    response = book(client, desk.space, f"desk:{desk.pk}:full_day")
    assert "Complétez votre profil (votre nom) avant de réserver." in messages_of(response)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_absurd_dates_get_a_message_not_a_500(client, camille, desk, day):
    client.force_login(camille)
    response = client.post(
        f"/spaces/{desk.space.slug}/book/", {"date": day, "choice": f"desk:{desk.pk}:full_day"}
    )
    assert response.status_code == 302
    assert client.get(f"/spaces/{desk.space.slug}/availability/?date={day}").status_code == 200
