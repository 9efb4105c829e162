"""Events: members propose, a manager of the space approves (not one of another space); RSVPs within the
capacity with a waiting list promoted on cancellation; times in the space's zone; an .ics per event and
the events in the member's calendar feed; talk proposals with votes; what anonymous visitors see."""

import icalendar
import pytest
from django.core import mail
from django.urls import reverse

from bookings import services as booking_services
from community import services
from community.models import Event, EventStatus, ProposalVote, Rsvp, RsvpStatus, TalkProposal
from tests.community.conftest import at, client_for, directory_member
from tests.factories import ManagerFactory, SpaceFactory

pytestmark = pytest.mark.django_db

NOW = at(2026, 3, 10, 10, 0)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def lille(db):
    return SpaceFactory(name="La Ruche", slug="la-ruche")


@pytest.fixture
def montreal(db):
    return SpaceFactory(name="Montréal", slug="montreal", time_zone="America/Toronto")


@pytest.fixture
def manager(lille):
    return ManagerFactory(email="yanis@example.com", spaces=[lille], member__display_name="Yanis")


def an_event(space, *, capacity=2, by=None, **fields) -> Event:
    data = {
        "kind": "talk",
        "title": "Apéro-talk",
        "description": "",
        "start": at(2026, 3, 20, 18, 0),
        "end": at(2026, 3, 20, 20, 0),
        "capacity": capacity,
        **fields,
    }
    event = services.event_create(
        by=by or ManagerFactory(spaces=[space], member__display_name="Gérant"),
        space=space,
        data=data,
        now=NOW,
    )
    assert event.status == EventStatus.APPROVED
    return event


def event_form(space, **overrides) -> dict:
    return {
        "space": space.slug,
        "kind": "barcamp",
        "title": "Barcamp du printemps",
        "description": "Des talks proposés par les participants.",
        "start": "2026-03-28T09:30",
        "end": "2026-03-28T17:00",
        "capacity": "30",
        "accepts_proposals": "on",
        **overrides,
    }


def test_a_member_s_event_waits_for_a_manager_of_its_space(lille, manager, camille):
    response = client_for(camille).post("/community/events/new/", event_form(lille))
    event = Event.objects.get()
    assert response.status_code == 302
    assert event.status == EventStatus.PENDING
    assert event.start == at(2026, 3, 28, 9, 30)
    viewer = client_for(directory_member(name="Other member"))
    assert viewer.get(event.get_absolute_url()).status_code == 404
    assert client_for(camille).get(event.get_absolute_url()).status_code == 200
    # A manager of another space cannot approve it; the space's manager can.
    stranger = ManagerFactory(spaces=[SpaceFactory()])
    assert (
        client_for(stranger)
        .post(reverse("community:event_decide", args=[event.pk]), {"decision": "approve"})
        .status_code
        == 404
    )
    with pytest.raises(services.CommunityError):
        services.event_decide(event=event, by=stranger, approve=True, now=NOW)
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING
    response = client_for(manager).post(
        reverse("community:event_decide", args=[event.pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == EventStatus.APPROVED
    assert viewer.get(event.get_absolute_url()).status_code == 200


def test_a_manager_s_event_is_published_at_once(lille, manager):
    response = client_for(manager).post("/community/events/new/", event_form(lille))
    assert response.status_code == 302
    assert Event.objects.get().status == EventStatus.APPROVED


def test_the_times_are_read_in_the_space_s_zone(montreal, camille):
    client_for(camille).post("/community/events/new/", event_form(montreal, start="2026-03-28T09:30"))
    event = Event.objects.get()
    assert event.start.astimezone(montreal.tz).hour == 9
    assert event.start == at(2026, 3, 28, 14, 30)  # 09:30 in Toronto (UTC-4 after 8 March) is 14:30 in Paris


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start", "2026-03-29T02:30"),
        ("end", "2026-03-28T08:00"),
        ("start", "2026-03-01T10:00"),
        ("capacity", "0"),
    ],
)
def test_bad_event_input_is_a_form_error(lille, camille, field, value):
    response = client_for(camille).post("/community/events/new/", event_form(lille, **{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Event.objects.exists()


def test_rsvp_within_capacity_then_a_waiting_list_promoted_on_cancellation(
    lille, django_capture_on_commit_callbacks
):
    event = an_event(lille, capacity=2)
    first, second, third = (
        directory_member(name=n, email=f"{n.lower()}@example.com") for n in ("Ana", "Ben", "Chloé")
    )
    statuses = [
        client_for(user).post(reverse("community:event_rsvp", args=[event.pk]))
        for user in (first, second, third)
    ]
    assert [response.status_code for response in statuses] == [302, 302, 302]
    assert dict(Rsvp.objects.values_list("user__email", "status")) == {
        "ana@example.com": RsvpStatus.GOING,
        "ben@example.com": RsvpStatus.GOING,
        "chloé@example.com": RsvpStatus.WAITING,
    }
    page = client_for(third).get(event.get_absolute_url()).content.decode()
    assert "number 1 on the waiting list" in page
    with django_capture_on_commit_callbacks(execute=True):
        client_for(first).post(reverse("community:event_cancel_rsvp", args=[event.pk]))
    assert Rsvp.objects.get(user=third).status == RsvpStatus.GOING
    assert Rsvp.objects.filter(status=RsvpStatus.GOING).count() == 2
    assert [message.to for message in mail.outbox] == [["chloé@example.com"]]
    # RSVP twice is still one seat.
    client_for(second).post(reverse("community:event_rsvp", args=[event.pk]))
    assert Rsvp.objects.filter(user=second).count() == 1


def test_no_rsvp_to_a_pending_or_past_event(lille, camille):
    pending = services.event_create(
        by=camille,
        space=lille,
        data={"title": "Déjeuner", "start": at(2026, 3, 20, 12), "end": at(2026, 3, 20, 14), "capacity": 5},
        now=NOW,
    )
    with pytest.raises(services.CommunityError):
        services.rsvp(event=pending, user=camille, now=NOW)
    event = an_event(lille)
    with pytest.raises(services.CommunityError):
        services.rsvp(event=event, user=camille, now=at(2026, 3, 21, 9))


def test_raising_the_capacity_moves_the_waiting_list_up(lille, camille, viewer):
    event = an_event(lille, capacity=1)
    services.rsvp(event=event, user=camille, now=NOW)
    services.rsvp(event=event, user=viewer, now=NOW)
    Event.objects.filter(pk=event.pk).update(capacity=2)
    services.event_fill_seats(event=event, now=NOW)
    assert Rsvp.objects.get(user=viewer).status == RsvpStatus.GOING


def test_each_event_has_an_ics_in_the_space_s_zone(montreal, camille):
    event = an_event(montreal, start=at(2026, 3, 20, 18), end=at(2026, 3, 20, 20))
    response = client_for(camille).get(reverse("community:event_ics", args=[event.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    component = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert component.decoded("dtstart") == at(2026, 3, 20, 18)
    assert "America/Toronto" in response.content.decode()


def test_the_member_s_calendar_feed_holds_their_events(lille, camille):
    event = an_event(lille, title="Jelly day", kind="jelly", no_pass_needed=True)
    other = an_event(lille, title="Not mine")
    services.rsvp(event=event, user=camille, now=NOW)
    token = booking_services.calendar_feed_token(member=camille)
    response = client_for(camille).get(reverse("bookings:feed", args=[token]))
    body = response.content.decode()
    assert "Jelly day" in body
    assert other.title not in body


def test_anonymous_visitors_see_only_open_events_and_no_attendee(client, lille, camille):
    open_event = an_event(lille, title="Jelly ouvert", open_to_non_members=True)
    closed = an_event(lille, title="Réservé aux membres")
    services.rsvp(event=open_event, user=camille, now=NOW)
    listing = client.get("/community/events/").content.decode()
    assert "Jelly ouvert" in listing
    assert "Réservé aux membres" not in listing
    page = client.get(open_event.get_absolute_url())
    assert page.status_code == 200
    assert "Camille" not in page.content.decode()
    assert client.get(closed.get_absolute_url()).status_code == 404
    assert client.get(reverse("community:event_ics", args=[closed.pk])).status_code == 404
    assert client.post(reverse("community:event_rsvp", args=[open_event.pk])).status_code == 302
    assert Rsvp.objects.count() == 1
    assert "Camille" in client_for(camille).get(open_event.get_absolute_url()).content.decode()


def test_barcamp_attendees_propose_talks_and_vote_once(lille, camille, viewer):
    event = an_event(lille, kind="barcamp", accepts_proposals=True, capacity=10)
    outsider = directory_member(name="Outsider")
    response = client_for(outsider).post(
        reverse("community:proposal_add", args=[event.pk]), {"title": "Pas inscrit"}
    )
    assert response.status_code == 302
    assert not TalkProposal.objects.exists()
    services.rsvp(event=event, user=camille, now=NOW)
    services.rsvp(event=event, user=viewer, now=NOW)
    client_for(camille).post(
        reverse("community:proposal_add", args=[event.pk]), {"title": "Le design inclusif"}
    )
    proposal = TalkProposal.objects.get()
    voter = client_for(viewer)
    voter.post(reverse("community:proposal_vote", args=[proposal.pk]))
    assert ProposalVote.objects.filter(proposal=proposal).count() == 1
    page = voter.get(event.get_absolute_url()).content.decode()
    assert "Le design inclusif" in page
    assert "1 vote" in page
    voter.post(reverse("community:proposal_vote", args=[proposal.pk]))  # a second click takes it back
    assert ProposalVote.objects.count() == 0
