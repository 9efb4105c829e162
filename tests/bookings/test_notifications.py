"""Confirmation and cancellation e-mails: sent after commit by a task, and never lost if the broker is
down, because the booking row records that an e-mail is owed."""

from datetime import date, timedelta

import icalendar
import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from bookings import services, tasks
from bookings.models import Booking
from tests.bookings.conftest import NOW

pytestmark = pytest.mark.django_db(transaction=True)
THURSDAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def book(member, desk):
    return services.booking_create(
        member=member,
        slot=services.desk_slot(resource=desk, day=THURSDAY, part="full_day"),
        now=timezone.now(),
    )


def test_a_booking_sends_one_confirmation_with_the_booking_as_ics(camille, desk, mailoutbox):
    booking = book(camille, desk)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["camille@example.com"]
    assert "Réservation confirmée : Bureau 01, Canal" in message.subject
    assert "jeudi 26 novembre 2026" in message.body
    _name, content, mimetype = message.attachments[0]
    assert mimetype == "text/calendar"
    event = icalendar.Calendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == THURSDAY
    booking.refresh_from_db()
    assert not booking.confirmation_pending


def test_the_email_is_in_the_members_language(camille, desk, mailoutbox):
    camille.member.preferred_language = "en"
    camille.member.save()
    book(camille, desk)
    assert "Booking confirmed: Bureau 01, Canal" in mailoutbox[0].subject
    assert "Thursday 26 November 2026" in mailoutbox[0].body


def test_a_broker_outage_does_not_fail_the_booking_and_the_sweep_sends_it_later(
    camille, desk, mailoutbox, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.send_owed_notifications, "delay", broker_down)
    booking = book(camille, desk)
    assert mailoutbox == []
    booking.refresh_from_db()
    assert booking.confirmation_pending
    assert tasks.sweep_notifications() == 0  # too recent: the fast path may still be on its way
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert tasks.sweep_notifications() == 1
        assert tasks.sweep_notifications() == 0  # a second sweep sends nothing twice
    assert len(mailoutbox) == 1


def test_a_failed_send_is_retried_by_the_sweep(camille, desk, mailoutbox, monkeypatch):
    from bookings import notifications

    real = notifications.send_confirmation

    def smtp_down(booking):
        raise OSError("smtp down")

    monkeypatch.setattr(notifications, "send_confirmation", smtp_down)
    monkeypatch.setattr(tasks.send_owed_notifications, "delay", lambda: None)
    booking = book(camille, desk)
    with pytest.raises(OSError, match="smtp down"):
        tasks._claim_and_send(
            booking.pk, flag="confirmation_pending", send=notifications.send_confirmation, status="confirmed"
        )
    assert Booking.objects.get(pk=booking.pk).confirmation_pending  # the claim was given back
    monkeypatch.setattr(notifications, "send_confirmation", real)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert tasks.sweep_notifications() == 1
    assert len(mailoutbox) == 1


def test_a_cancellation_sends_a_notice_with_the_managers_reason(camille, desk, mailoutbox):
    from tests.factories import ManagerFactory

    booking = book(camille, desk)
    services.booking_cancel(
        booking=booking,
        by=ManagerFactory(spaces=[desk.space]),
        now=timezone.now(),
        reason="Fermeture exceptionnelle",
    )
    assert len(mailoutbox) == 2
    assert "Réservation annulée" in mailoutbox[1].subject
    assert "Fermeture exceptionnelle" in mailoutbox[1].body
    event = icalendar.Calendar.from_ical(mailoutbox[1].attachments[0][1]).walk("VEVENT")[0]
    assert str(event["status"]) == "CANCELLED"


def test_a_booking_cancelled_before_its_confirmation_left_gets_no_confirmation(
    camille, desk, mailoutbox, monkeypatch
):
    monkeypatch.setattr(tasks.send_owed_notifications, "delay", lambda: None)
    booking = book(camille, desk)
    services.booking_cancel(booking=booking, by=camille, now=timezone.now())
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        tasks.sweep_notifications()
    assert [message.subject for message in mailoutbox] == [mailoutbox[0].subject]
    assert "annulée" in mailoutbox[0].subject


def test_bookings_made_while_a_flush_waits_ride_on_it_and_the_flush_sends_them_all(
    camille, desk, desk2, mailoutbox, monkeypatch
):
    from tests.factories import UserFactory

    queued = []
    monkeypatch.setattr(tasks.send_owed_notifications, "delay", lambda: queued.append(1))
    book(camille, desk)
    book(UserFactory(member__display_name="Jo"), desk2)
    assert queued == [1]  # one message for both
    assert mailoutbox == []
    assert tasks.send_owed_notifications() == 2  # the worker runs it: both confirmations
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        [camille.email, Booking.objects.get(resource=desk2).member.email]
    )
    # The flush cleared the mark before reading: the next booking queues a flush of its own.
    services.booking_cancel(booking=Booking.objects.get(resource=desk), by=camille, now=timezone.now())
    assert queued == [1, 1]


def test_a_flush_the_broker_refused_is_queued_again_by_the_next_booking(camille, desk, desk2, monkeypatch):
    from tests.factories import UserFactory

    attempts = []

    def broker_down():
        attempts.append(1)
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.send_owed_notifications, "delay", broker_down)
    book(camille, desk)
    book(UserFactory(member__display_name="Jo"), desk2)
    assert attempts == [1, 1]
    assert Booking.objects.filter(confirmation_pending=True).count() == 2


def test_e_mails_that_keep_failing_hold_back_neither_newer_ones_nor_the_queue(desk, monkeypatch):
    from bookings import notifications
    from tests.factories import BookingFactory, ResourceFactory

    owed = [
        BookingFactory(resource=ResourceFactory(zone=desk.zone), day=THURSDAY, confirmation_pending=True)
        for _ in range(3)
    ]
    refused = {owed[0].pk}
    sent, queued = [], []

    def send(booking):
        if booking.pk in refused:
            raise OSError("recipient refused")
        sent.append(booking.pk)

    monkeypatch.setattr(notifications, "send_confirmation", send)
    monkeypatch.setattr(tasks, "SWEEP_CHUNK", 1)
    monkeypatch.setattr(tasks, "SWEEP_CHUNKS", 2)
    monkeypatch.setattr(tasks.send_owed_notifications, "delay", lambda: queued.append(1))
    # The first row fails; the run goes on past it, and queues the rest since sending works.
    assert tasks.send_owed_notifications() == 1
    assert sent == [owed[1].pk]
    assert queued == [1]
    assert tasks.send_owed_notifications() == 1
    assert sent == [owed[1].pk, owed[2].pk]
    # Only the refused one is left, and a run that sends nothing queues nothing more: the sweep retries.
    before = len(queued)
    cache.clear()
    monkeypatch.setattr(tasks, "SWEEP_CHUNKS", 1)  # a full chunk: the run cannot tell that nothing is left
    assert tasks.send_owed_notifications() == 0
    assert len(queued) == before
    assert Booking.objects.filter(confirmation_pending=True).count() == 1
