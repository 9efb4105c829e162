"""Hypothesis throws arbitrary input at the booking form: a message or a 404, never a 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import Booking

text = st.text(max_size=60)
choices = st.one_of(
    text,
    st.builds(
        lambda kind, number, rest: f"{kind}:{number}:{rest}",
        st.sampled_from(["desk", "zone", "room", "x"]),
        st.integers(min_value=-5, max_value=10**13),
        text,
    ),
)


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.one_of(text, st.dates().map(str)), choice=choices)
def test_arbitrary_booking_posts_never_crash(client, camille, desk, day, choice):
    client.force_login(camille)
    response = client.post(f"/spaces/{desk.space.slug}/book/", {"date": day, "choice": choice})
    assert response.status_code in {302, 404}
    Booking.objects.all().delete()


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=text, start=text, end=text)
def test_arbitrary_room_forms_never_crash(client, camille, room, day, start, end):
    client.force_login(camille)
    response = client.post(
        f"/spaces/{room.space.slug}/rooms/{room.pk}/book/",
        {"date": day, "start_time": start, "end_time": end},
    )
    assert response.status_code in {200, 302}
    Booking.objects.all().delete()


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=text)
def test_arbitrary_dates_on_the_availability_page_never_crash(client, desk, day):
    assert client.get(f"/spaces/{desk.space.slug}/availability/", {"date": day}).status_code == 200
