"""Who is in today and tomorrow on a space's page, and "tell me when a lawyer is in": an e-mail recorded in
the booking's own transaction (the outbox), sent once, with a one-click unsubscribe."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings import services as booking_services
from community import notifications, services
from community.models import CommunityEmail, SkillAlert
from tests.community.conftest import at, client_for, directory_member
from tests.factories import BookingFactory, ResourceFactory, SpaceFactory, ZoneFactory

pytestmark = pytest.mark.django_db

NOW = at(2026, 3, 10, 10, 0)  # a Tuesday
TODAY = NOW.date()
TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def lille(db):
    return SpaceFactory(name="La Ruche", slug="la-ruche")


@pytest.fixture
def desks(lille):
    zone = ZoneFactory(space=lille)
    return [ResourceFactory(zone=zone, name=f"Bureau {n}") for n in range(40)]


def who(client, space):
    return client.get(reverse("community:who_is_in", args=[space.slug]))


def test_signed_in_members_see_who_is_in_today_and_tomorrow(lille, desks, camille, viewer_client):
    BookingFactory(resource=desks[0], member=camille, day=TODAY)
    tomorrow = directory_member(name="Inès", profession="Avocate", skills=["Droit"])
    BookingFactory(resource=desks[1], member=tomorrow, day=TOMORROW)
    response = who(viewer_client, lille)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Camille, UX designer, is here today" in page
    assert "Inès, Avocate, will be here tomorrow" in page
    assert "UX design" in page
    assert "camille@example.com" not in page


def test_the_space_page_loads_who_is_in_for_members_only(client, lille, viewer_client):
    assert (
        reverse("community:who_is_in", args=[lille.slug])
        in viewer_client.get(lille.get_absolute_url()).content.decode()
    )
    assert "who-is-in" not in client.get(lille.get_absolute_url()).content.decode()
    anonymous = who(client, lille)
    assert anonymous.status_code == 302


def test_members_outside_the_directory_or_hiding_fields_are_shown_as_they_chose(
    lille, desks, viewer_client, camille
):
    out = directory_member(name="Secret Sam", profession="Notaire", opt_in=False)
    BookingFactory(resource=desks[0], member=out, day=TODAY)
    BookingFactory(resource=desks[1], member=camille, day=TODAY)
    services.community_profile_update(user=camille, data={"show_profession": False, "show_skills": False})
    page = who(viewer_client, lille).content.decode()
    assert "Secret Sam" not in page
    assert "Camille is here today" in page
    assert "UX design" not in page


def test_a_cancelled_booking_is_not_in(lille, desks, viewer_client, camille):
    booking = BookingFactory(resource=desks[0], member=camille, day=TODAY)
    booking_services.booking_cancel(booking=booking, by=camille, now=NOW - timedelta(days=2))
    assert "Camille" not in who(viewer_client, lille).content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_who_is_in_reads_a_bounded_number_of_queries(
    lille, desks, viewer_client, django_assert_max_num_queries, count
):
    for n in range(count):
        user = directory_member(name=f"Membre {n:02d}", profession="Dev", skills=["Python", f"S{n}"])
        BookingFactory(resource=desks[n], member=user, day=TODAY if n % 2 else TOMORROW)
    with django_assert_max_num_queries(10):
        response = who(viewer_client, lille)
    assert sum(len(day.cards) for day in response.context["days"]) == count


# --- skill alerts -------------------------------------------------------------------------------------


def book(user, resource, day):
    slot = booking_services.desk_slot(resource=resource, day=day, part="full_day")
    return booking_services.booking_create(member=user, slot=slot, now=NOW)


def alerts_sent() -> list:
    """The community's e-mails (the booking's own confirmation goes to the booker)."""
    return [message for message in mail.outbox if "List-Unsubscribe" in message.extra_headers]


def test_a_member_is_told_when_someone_with_the_skill_books(
    lille, desks, viewer, camille, django_capture_on_commit_callbacks
):
    alert = services.skill_alert_create(user=viewer, skill_name="developpeur", space=lille)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[0], TOMORROW)
    assert len(alerts_sent()) == 1
    message = alerts_sent()[0]
    assert message.to == ["viewer@example.com"]
    assert "Camille" in message.body
    assert "camille@example.com" not in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = CommunityEmail.objects.get()
    assert row.key == f"alert:{alert.pk}:{camille.pk}:{TOMORROW.isoformat()}"
    assert row.sent_at is not None
    # Sending again (the sweep, a second task) sends nothing twice.
    assert notifications.sweep(now=NOW + timedelta(hours=1)) == 0
    assert notifications.send_keys([row.key]) == 0
    assert len(alerts_sent()) == 1


def test_the_alert_is_recorded_with_the_booking_and_the_sweep_sends_it_when_the_broker_is_down(
    lille, desks, viewer, camille, monkeypatch, django_capture_on_commit_callbacks
):
    services.skill_alert_create(user=viewer, skill_name="UX design", space=None)
    from community import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.send_emails_by_key, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[0], TOMORROW)
    assert alerts_sent() == []
    assert CommunityEmail.objects.filter(sent_at__isnull=True).count() == 1
    assert notifications.sweep(now=NOW + timedelta(minutes=10)) == 1
    assert len(alerts_sent()) == 1


def test_no_alert_for_a_member_outside_the_directory_or_another_space(
    lille, desks, viewer, django_capture_on_commit_callbacks
):
    other = SpaceFactory()
    services.skill_alert_create(user=viewer, skill_name="Photographie", space=other)
    services.skill_alert_create(user=viewer, skill_name="Comptabilité", space=lille)
    photographer = directory_member(name="Paul", skills=["Photographie"])
    hidden = directory_member(name="Léa", skills=["Comptabilité"], opt_in=False)
    with django_capture_on_commit_callbacks(execute=True):
        book(photographer, desks[0], TOMORROW)
        book(hidden, desks[1], TOMORROW)
    assert alerts_sent() == []
    assert not CommunityEmail.objects.exists()


def test_the_one_click_link_stops_the_alert_without_signing_in(
    client, lille, desks, viewer, camille, django_capture_on_commit_callbacks
):
    alert = services.skill_alert_create(user=viewer, skill_name="UX design", space=lille)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[0], TOMORROW)
    url = CommunityEmail.objects.get().unsubscribe_url
    response = client.post(urlsplit(url).path)
    assert response.status_code == 200
    assert not SkillAlert.objects.filter(pk=alert.pk).exists()


def test_following_the_alert_link_only_asks_and_the_button_stops_it(
    client, lille, desks, viewer, camille, django_capture_on_commit_callbacks
):
    alert = services.skill_alert_create(user=viewer, skill_name="UX design", space=lille)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[0], TOMORROW)
    path = urlsplit(CommunityEmail.objects.get().unsubscribe_url).path
    page = client.get(path)  # a mail scanner or a link preview does this too
    assert page.status_code == 200
    assert "Stop this alert?" in page.content.decode() or "Arrêter cette alerte ?" in page.content.decode()
    assert SkillAlert.objects.filter(pk=alert.pk).exists()
    assert client.post(path).status_code == 200
    assert not SkillAlert.objects.filter(pk=alert.pk).exists()


def test_a_forged_unsubscribe_link_is_refused(client, viewer):
    alert = services.skill_alert_create(user=viewer, skill_name="UX design")
    response = client.get(reverse("community:unsubscribe", args=[f"forged-alert-{alert.pk}"]))
    assert response.status_code == 400
    assert SkillAlert.objects.filter(pk=alert.pk).exists()


def test_members_manage_their_alerts_on_the_settings_page(viewer, lille):
    client = client_for(viewer)
    assert client.post("/community/alerts/", {"skill": "Avocat", "space": lille.slug}).status_code == 302
    alert = SkillAlert.objects.get(user=viewer)
    assert alert.space == lille
    assert "Avocat" in client.get("/community/settings/").content.decode()
    assert client.post("/community/alerts/", {"skill": ""}).status_code == 302
    other = client_for(directory_member(name="Other"))
    other.post(f"/community/alerts/{alert.pk}/delete/")
    assert SkillAlert.objects.filter(pk=alert.pk).exists()
    client.post(f"/community/alerts/{alert.pk}/delete/")
    assert not SkillAlert.objects.filter(pk=alert.pk).exists()


def test_a_failure_of_the_community_never_prevents_a_booking(lille, desks, camille, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("bug in the community")

    monkeypatch.setattr(services, "skill_alerts_on_booking", broken)
    booking = book(camille, desks[0], TOMORROW)
    assert booking.pk is not None
    assert not CommunityEmail.objects.exists()


def test_a_booking_where_nobody_asked_about_a_skill_reads_no_alert_and_opens_no_savepoint(
    lille, desks, viewer, camille
):
    services.skill_alert_create(user=viewer, skill_name="UX design", space=SpaceFactory())
    book(directory_member(name="Warm"), desks[1], TOMORROW)  # the summary is in the cache from here
    with CaptureQueriesContext(connection) as captured:
        book(camille, desks[0], TOMORROW)
    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if "community_skillalert" in sql]
    # One savepoint: the booking's own transaction, inside this test's; none for the alerts.
    assert len([sql for sql in statements if sql.startswith("SAVEPOINT")]) == 1
    assert not CommunityEmail.objects.exists()


def test_an_alert_counts_from_the_commit_that_creates_it_until_the_one_that_deletes_it(
    lille, desks, viewer, camille, django_capture_on_commit_callbacks
):
    book(directory_member(name="Warm"), desks[5], TODAY)  # nobody asked yet: that is now in the cache
    with django_capture_on_commit_callbacks(execute=True):
        alert = services.skill_alert_create(user=viewer, skill_name="UX design", space=lille)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[0], TOMORROW)
    assert CommunityEmail.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.skill_alert_delete(user=viewer, alert_id=alert.pk)
    with django_capture_on_commit_callbacks(execute=True):
        book(camille, desks[1], TOMORROW + timedelta(days=1))
    assert CommunityEmail.objects.count() == 1
