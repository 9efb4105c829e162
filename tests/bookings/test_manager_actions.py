"""What a manager does to bookings: cancel one with a reason, book for a member, close the space for
some days (the bookings it cancels listed first, their members told), each written in the audit log."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing_services
from billing.models import CreditEntry, CreditKind
from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, BookingStatus, DayPart
from members.models import AuditEntry
from spaces.models import Closure
from tests.bookings.conftest import NOW
from tests.factories import (
    ClosureFactory,
    ManagerFactory,
    PlanFactory,
    ResourceFactory,
    SpaceFactory,
    UserFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db
TODAY = NOW.date()  # Monday 23 November 2026
THURSDAY = date(2026, 11, 26)
CHRISTMAS_EVE, CHRISTMAS, BOXING_DAY = date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def manager(paris):
    return ManagerFactory(email="manager@example.com", member__display_name="Yanis", spaces=[paris])


@pytest.fixture
def as_manager(english, manager):
    english.force_login(manager)
    return english


@pytest.fixture
def john(db):
    return UserFactory(
        email="john@example.com", member__display_name="John Smith", member__preferred_language="en"
    )


@pytest.fixture
def lille(db):
    return SpaceFactory(name="Lille Centre", slug="lille-centre", weekdays=[0, 1, 2, 3, 4, 5, 6])


@pytest.fixture
def lille_desk(lille):
    return ResourceFactory(zone=ZoneFactory(space=lille, name="Plateau"), name="Poste 1")


def book(member, resource, day=THURSDAY, part=DayPart.FULL_DAY, **times):
    if resource.is_desk:
        slot = services.desk_slot(resource=resource, day=day, part=part)
    else:
        slot = services.room_slot(resource=resource, day=day, **times)
    return services.booking_create(member=member, slot=slot, now=NOW)


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def html(response) -> str:
    return response.content.decode()


# --- cancelling with a reason ---------------------------------------------------------------------------


def test_a_booking_cancelled_by_a_manager_is_in_the_audit_log(manager, camille, desk):
    booking = book(camille, desk)
    services.booking_cancel(booking=booking, by=manager, now=NOW, reason="  Dégât des eaux  ")
    (entry,) = entries("booking.cancel")
    assert (entry.actor, entry.space_id, entry.target_type, entry.target_id) == (
        manager,
        desk.space_id,
        "bookings.booking",
        str(booking.pk),
    )
    assert entry.note == "Dégât des eaux"
    assert entry.before["status"] == "confirmed"
    assert entry.before["member"] == "camille@example.com"
    assert entry.before["resource"] == "Bureau 01"
    assert entry.before["day"] == "2026-11-26"
    assert entry.after == {"status": "cancelled"}


def test_a_member_cancelling_their_own_booking_writes_no_audit_entry(camille, desk):
    services.booking_cancel(booking=book(camille, desk), by=camille, now=NOW)
    assert not AuditEntry.objects.exists()


def test_the_cancel_action_of_the_admin_writes_the_audit_log(as_manager, manager, camille, desk):
    booking = book(camille, desk)
    response = as_manager.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_with_reason", "_selected_action": [booking.pk], "reason": "Panne de chauffage"},
        follow=True,
    )
    assert "1 booking cancelled; the member is told by e-mail." in html(response)
    assert [(e.actor, e.note) for e in entries("booking.cancel")] == [(manager, "Panne de chauffage")]


# --- booking for a member ------------------------------------------------------------------------------


def test_a_manager_books_a_desk_for_a_member_who_is_told_by_email(
    manager, camille, desk, mailoutbox, django_capture_on_commit_callbacks
):
    slot = services.desk_slot(resource=desk, day=THURSDAY, part=DayPart.MORNING)
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_create_for_member(member=camille, slot=slot, now=NOW, by=manager)
    assert (booking.member, booking.booked_by, booking.part) == (camille, manager, DayPart.MORNING)
    (message,) = mailoutbox
    assert message.to == ["camille@example.com"]
    assert "Réservation confirmée : Bureau 01, Canal" in message.subject
    (entry,) = entries("booking.create_for_member")
    assert (entry.actor, entry.space_id, entry.target_id, entry.note) == (
        manager,
        desk.space_id,
        str(booking.pk),
        "",
    )
    assert entry.before is None
    assert entry.after["member"] == "camille@example.com"
    assert entry.after["part"] == "morning"
    assert entry.after["day"] == "2026-11-26"


def test_the_members_entitlements_apply_when_a_manager_books_for_them(manager, camille, paris, desk):
    paris.desks_need_pass = True
    paris.save()
    slot = services.desk_slot(resource=desk, day=THURSDAY, part=DayPart.FULL_DAY)
    with pytest.raises(BookingError) as caught:
        services.booking_create_for_member(member=camille, slot=slot, now=NOW, by=manager)
    assert caught.value.code == "not_entitled"
    pack = PlanFactory(space=paris, name="Carnet", kind="pack_10", unit_price=Decimal("180"), desk_days=10)
    billing_services.pass_purchase(member=camille, plan=pack, start=TODAY, now=NOW)
    booking = services.booking_create_for_member(member=camille, slot=slot, now=NOW, by=manager)
    assert CreditEntry.objects.filter(reference=f"booking:{booking.pk}", kind=CreditKind.DESK_DAY).exists()
    assert not Booking.objects.filter(member=manager).exists()


def test_a_manager_books_only_in_the_spaces_they_run_and_for_active_members(
    manager, camille, lille_desk, desk
):
    slot = services.desk_slot(resource=lille_desk, day=THURSDAY, part=DayPart.FULL_DAY)
    with pytest.raises(BookingError) as caught:
        services.booking_create_for_member(member=camille, slot=slot, now=NOW, by=manager)
    assert caught.value.code == "not_found"
    camille.is_active = False
    camille.save()
    slot = services.desk_slot(resource=desk, day=THURSDAY, part=DayPart.FULL_DAY)
    with pytest.raises(BookingError) as caught:
        services.booking_create_for_member(member=camille, slot=slot, now=NOW, by=manager)
    assert caught.value.code == "invalid"
    assert not Booking.objects.exists()
    assert not AuditEntry.objects.exists()


# --- closures --------------------------------------------------------------------------------------------


@pytest.fixture
def christmas_bookings(camille, john, desk, desk2, room, lille_desk):
    """Bookings on the days around Christmas, at Canal and at Lille."""
    eve = book(camille, desk, day=CHRISTMAS_EVE)
    christmas = book(john, desk2, day=CHRISTMAS, part=DayPart.AFTERNOON)
    boxing_room = book(camille, room, day=BOXING_DAY, start_time=time(10), end_time=time(12))
    after = book(john, desk, day=date(2026, 12, 28))
    lille = book(UserFactory(member__display_name="Léa"), lille_desk, day=CHRISTMAS)
    max_ = UserFactory(member__display_name="Max")
    already = book(max_, desk2, day=CHRISTMAS_EVE, part=DayPart.MORNING)
    services.booking_cancel(booking=already, by=max_, now=NOW)
    # Their e-mails went out when they were made (this test's transaction never commits, so no flush ran):
    # what the tests below see owed is only what the closure adds.
    Booking.objects.update(confirmation_pending=False, cancellation_notice_pending=False)
    return {"eve": eve, "christmas": christmas, "room": boxing_room, "after": after, "lille": lille}


def status(booking) -> str:
    return Booking.objects.get(pk=booking.pk).status


def test_the_bookings_a_closure_affects_are_the_confirmed_ones_of_its_days_and_space(
    paris, christmas_bookings
):
    affected = services.bookings_affected_by_closure(
        space=paris, start_date=CHRISTMAS_EVE, end_date=BOXING_DAY
    )
    assert list(affected) == [
        christmas_bookings["eve"],
        christmas_bookings["christmas"],
        christmas_bookings["room"],
    ]


def test_closing_the_space_cancels_its_bookings_and_tells_each_member_in_their_language(
    manager, paris, desk, christmas_bookings, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        closure, cancelled = services.space_close(
            space=paris,
            start_date=CHRISTMAS_EVE,
            end_date=BOXING_DAY,
            reason="Fermeture de Noël",
            by=manager,
            now=NOW,
        )
    assert (closure.space, closure.start_date, closure.end_date, closure.reason) == (
        paris,
        CHRISTMAS_EVE,
        BOXING_DAY,
        "Fermeture de Noël",
    )
    expected = [christmas_bookings[key] for key in ("eve", "christmas", "room")]
    assert cancelled == expected
    for key in ("eve", "christmas", "room"):
        assert status(christmas_bookings[key]) == BookingStatus.CANCELLED
    assert status(christmas_bookings["after"]) == BookingStatus.CONFIRMED
    assert status(christmas_bookings["lille"]) == BookingStatus.CONFIRMED

    by_address = {}
    for message in mailoutbox:
        by_address.setdefault(message.to[0], []).append(message)
    assert sorted(by_address) == ["camille@example.com", "john@example.com"]
    assert all("Fermeture de Noël" in m.body for m in mailoutbox)
    assert [m.subject for m in by_address["john@example.com"]] == [
        "[Coworking] Booking cancelled: Bureau 02, Canal"
    ]
    assert "Friday 25 December 2026" in by_address["john@example.com"][0].body
    assert len(by_address["camille@example.com"]) == 2
    assert all("Réservation annulée" in m.subject for m in by_address["camille@example.com"])

    (close,) = entries("space.close")
    assert (close.actor, close.space_id, close.target_type, close.target_id, close.note) == (
        manager,
        paris.pk,
        "spaces.closure",
        str(closure.pk),
        "Fermeture de Noël",
    )
    assert close.after == {
        "start_date": "2026-12-24",
        "end_date": "2026-12-26",
        "reason": "Fermeture de Noël",
        "cancelled_bookings": [booking.pk for booking in expected],
    }
    assert [e.target_id for e in entries("booking.cancel")] == [str(b.pk) for b in expected]
    assert {e.note for e in entries("booking.cancel")} == {"Fermeture de Noël"}

    # Nobody can book those days any more.
    with pytest.raises(BookingError) as caught:
        book(john, desk, day=CHRISTMAS)
    assert caught.value.code == "closed"


def test_a_closure_gives_back_the_day_credit_a_booking_took(manager, camille, paris, desk):
    paris.desks_need_pass = True
    paris.save()
    pack = PlanFactory(space=paris, name="Carnet", kind="pack_10", unit_price=Decimal("180"), desk_days=10)
    billing_services.pass_purchase(member=camille, plan=pack, start=TODAY, now=NOW)
    book(camille, desk, day=CHRISTMAS)
    credits = CreditEntry.objects.filter(member=camille, kind=CreditKind.DESK_DAY)
    assert sum(credits.values_list("amount", flat=True)) == 9
    services.space_close(
        space=paris, start_date=CHRISTMAS, end_date=CHRISTMAS, reason="Noël", by=manager, now=NOW
    )
    assert sum(credits.values_list("amount", flat=True)) == 10


def test_a_closure_made_elsewhere_cancels_its_bookings_through_the_same_service(
    manager, paris, christmas_bookings
):
    closure = ClosureFactory(space=paris, start_date=CHRISTMAS, end_date=CHRISTMAS, reason="Noël")
    cancelled = services.cancel_for_closure(closure=closure, by=manager, now=NOW)
    assert cancelled == [christmas_bookings["christmas"]]
    assert entries("booking.cancel")[0].note == "Noël"
    cancelled = services.cancel_for_closure(
        space=paris, start_date=BOXING_DAY, end_date=BOXING_DAY, by=manager, now=NOW, reason="Lendemain"
    )
    assert cancelled == [christmas_bookings["room"]]


def test_a_booking_already_over_is_not_cancelled_by_a_closure(manager, camille, paris, desk):
    past = book(camille, desk, day=TODAY, part=DayPart.MORNING)
    Booking.objects.filter(pk=past.pk).update(end=NOW - timedelta(minutes=5))
    assert (
        services.cancel_for_closure(
            space=paris, start_date=TODAY, end_date=TODAY, by=manager, now=NOW, reason="Fuite"
        )
        == []
    )
    assert status(past) == BookingStatus.CONFIRMED


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"reason": "  "}, "reason_required"),
        ({"start_date": TODAY - timedelta(days=1)}, "in_past"),
        ({"end_date": CHRISTMAS_EVE - timedelta(days=1)}, "invalid"),
        ({"end_date": date(3100, 1, 1)}, "invalid"),
    ],
)
def test_a_closure_that_cannot_be_is_refused(manager, paris, christmas_bookings, changes, code):
    arguments = {"start_date": CHRISTMAS_EVE, "end_date": BOXING_DAY, "reason": "Noël", **changes}
    with pytest.raises(BookingError) as caught:
        services.space_close(space=paris, by=manager, now=NOW, **arguments)
    assert caught.value.code == code
    assert not Closure.objects.exists()
    assert status(christmas_bookings["eve"]) == BookingStatus.CONFIRMED
    assert not AuditEntry.objects.exists()


def test_a_manager_cannot_close_another_space(manager, lille, christmas_bookings):
    for call in (
        lambda: services.space_close(
            space=lille, start_date=CHRISTMAS, end_date=CHRISTMAS, reason="Intrus", by=manager, now=NOW
        ),
        lambda: services.cancel_for_closure(
            space=lille, start_date=CHRISTMAS, end_date=CHRISTMAS, reason="Intrus", by=manager, now=NOW
        ),
    ):
        with pytest.raises(BookingError) as caught:
            call()
        assert caught.value.code == "not_found"
    assert status(christmas_bookings["lille"]) == BookingStatus.CONFIRMED
    assert not Closure.objects.exists()


# --- the admin: book for a member --------------------------------------------------------------------------


BOOK_URL = "admin:bookings_booking_book_for_member"
CLOSE_URL = "admin:bookings_booking_close_space"
AUTOCOMPLETE_URL = "admin:bookings_booking_member_autocomplete"


def book_data(who, resource, **changes):
    data = {"member": who.pk, "resource": resource.pk, "day": THURSDAY.isoformat(), "part": "full_day"}
    data.update(changes)
    return data


def test_the_booking_list_links_to_the_manager_pages(as_manager):
    page = html(as_manager.get(reverse("admin:bookings_booking_changelist")))
    assert reverse(BOOK_URL) in page
    assert reverse(CLOSE_URL) in page


def test_yanis_books_a_desk_for_a_member_who_calls(
    as_manager, manager, camille, desk, lille_desk, mailoutbox, django_capture_on_commit_callbacks
):
    page = html(as_manager.get(reverse(BOOK_URL)))
    assert reverse(AUTOCOMPLETE_URL) in page  # the member field searches as you type
    assert "Canal · Bureau 01 (Hot desk)" in page
    assert "Poste 1" not in page  # the resources of the manager's spaces only
    with django_capture_on_commit_callbacks(execute=True):
        response = as_manager.post(reverse(BOOK_URL), book_data(camille, desk))
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bookings_booking_change", args=[booking.pk])
    assert (booking.member, booking.booked_by, booking.local_date) == (camille, manager, THURSDAY)
    page = html(as_manager.get(response["Location"]))
    assert "booked for Camille; they receive the confirmation by e-mail." in page
    assert [m.to for m in mailoutbox] == [["camille@example.com"]]
    assert entries("booking.create_for_member")[0].actor == manager


def test_a_room_is_booked_for_a_member_by_time(as_manager, camille, room):
    response = as_manager.post(
        reverse(BOOK_URL), book_data(camille, room, part="", start_time="14:00", end_time="15:30")
    )
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.part, booking.start.astimezone(room.space.tz).time()) == (DayPart.SLOT, time(14))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"part": ""}, "A desk is booked for the day or a half day: choose which."),
        ({"day": "26/13/2026"}, "Enter a valid date."),
        ({"day": TODAY.replace(day=20).isoformat()}, "This time is already past."),
        ({"member": ""}, "This field is required."),
        ({"member": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_booking_input_is_a_form_error(as_manager, camille, desk, changes, error):
    response = as_manager.post(reverse(BOOK_URL), book_data(camille, desk, **changes))
    assert response.status_code == 200
    assert error in html(response)
    assert not Booking.objects.exists()


def test_a_room_needs_both_times(as_manager, camille, room):
    response = as_manager.post(reverse(BOOK_URL), book_data(camille, room, part="", start_time="14:00"))
    assert response.status_code == 200
    assert "A room is booked from one time to another: give both." in html(response)


def test_a_refusal_of_the_booking_rules_reads_as_addressed_to_the_manager(as_manager, camille, paris, desk):
    paris.desks_need_pass = True
    paris.save()
    response = as_manager.post(reverse(BOOK_URL), book_data(camille, desk))
    assert response.status_code == 200
    assert "This member has no pass or day credit for this desk on that day" in html(response)
    assert not Booking.objects.exists()


def test_a_member_holding_a_desk_is_refused_a_second_one(as_manager, camille, desk, desk2):
    book(camille, desk2)
    response = as_manager.post(reverse(BOOK_URL), book_data(camille, desk))
    assert "This member already has a desk booked at that time." in html(response)
    assert Booking.objects.count() == 1


def test_another_spaces_resource_is_not_a_choice(as_manager, camille, lille_desk):
    response = as_manager.post(reverse(BOOK_URL), book_data(camille, lille_desk))
    assert response.status_code == 200
    assert "Select a valid choice." in html(response)
    assert not Booking.objects.exists()


def test_staff_who_run_no_space_get_no_manager_page(client, camille, desk):
    client.force_login(ManagerFactory())
    for name in (BOOK_URL, CLOSE_URL, AUTOCOMPLETE_URL):
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse(BOOK_URL), book_data(camille, desk)).status_code == 403
    assert not Booking.objects.exists()


# --- the admin: finding the member ------------------------------------------------------------------------


def search(client, term, **params) -> list[str]:
    response = client.get(reverse(AUTOCOMPLETE_URL), {"term": term, **params})
    assert response.status_code == 200
    return [row["text"] for row in response.json()["results"]]


def test_members_of_the_space_are_found_by_part_of_their_name_others_by_their_exact_address(
    as_manager, camille, desk, lille_desk
):
    book(camille, desk)
    newcomer = UserFactory(email="zoe.durand@example.com", member__display_name="Zoé Durand")
    lille_member = UserFactory(email="lea@example.com", member__display_name="Léa Camus")
    book(lille_member, lille_desk)
    UserFactory(email="camille.old@example.com", member__display_name="Camille Ancienne", is_active=False)

    assert search(as_manager, "cami") == ["Camille <camille@example.com>"]
    assert search(as_manager, "") == ["Camille <camille@example.com>"]
    assert search(as_manager, "zoé") == []
    assert search(as_manager, "Zoe.Durand@example.com") == ["Zoé Durand <zoe.durand@example.com>"]
    assert search(as_manager, "camus") == []  # a member of another space is not browsed
    assert search(as_manager, "camille.old@example.com") == []  # inactive
    response = as_manager.post(reverse(BOOK_URL), book_data(newcomer, desk, day="2026-11-27"))
    assert response.status_code == 302


def test_a_member_holding_a_pass_of_the_space_is_found_by_name(as_manager, paris):
    holder = UserFactory(email="ines@example.com", member__display_name="Inès Roux")
    plan = PlanFactory(space=paris, name="Mensuel", kind="monthly", unit_price=Decimal("250"))
    billing_services.pass_purchase(member=holder, plan=plan, start=TODAY, now=NOW)
    assert search(as_manager, "roux") == ["Inès Roux <ines@example.com>"]


def test_the_search_pages_its_results(as_manager, desk, open_space):
    for n in range(25):
        member = UserFactory(email=f"m{n:02d}@example.com", member__display_name=f"Membre {n:02d}")
        book(member, ResourceFactory(zone=open_space, name=f"Poste {n:02d}"))
    first = as_manager.get(reverse(AUTOCOMPLETE_URL), {"term": "membre"}).json()
    second = as_manager.get(reverse(AUTOCOMPLETE_URL), {"term": "membre", "page": "2"}).json()
    assert (len(first["results"]), first["pagination"]["more"]) == (20, True)
    assert (len(second["results"]), second["pagination"]["more"]) == (5, False)
    assert as_manager.get(reverse(AUTOCOMPLETE_URL), {"page": "x"}).status_code == 200


# --- the admin: close the space ----------------------------------------------------------------------------


def close_data(space, **changes):
    data = {
        "space": space.pk,
        "start_date": CHRISTMAS_EVE.isoformat(),
        "end_date": BOXING_DAY.isoformat(),
        "reason": "Fermeture de Noël",
    }
    data.update(changes)
    return data


def test_yanis_closes_the_space_on_christmas_after_seeing_the_bookings_it_cancels(
    as_manager, manager, paris, christmas_bookings, mailoutbox, django_capture_on_commit_callbacks
):
    assert as_manager.get(reverse(CLOSE_URL)).status_code == 200
    preview = as_manager.post(reverse(CLOSE_URL), close_data(paris))
    assert preview.status_code == 200
    page = html(preview)
    listed = page[page.index('id="affected-bookings"') :]
    assert "Camille (camille@example.com)" in listed
    assert "John Smith (john@example.com)" in listed
    assert "10:00–12:00" in listed  # the room, in the space's local time
    assert "Léa" not in listed
    assert "These 3 bookings will be cancelled" in page
    assert not Closure.objects.exists()  # nothing changes before the confirmation
    assert status(christmas_bookings["eve"]) == BookingStatus.CONFIRMED

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_manager.post(reverse(CLOSE_URL), {**close_data(paris), "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bookings_booking_changelist")
    page = html(as_manager.get(response["Location"]))
    assert "Canal is closed from Dec. 24, 2026 to Dec. 26, 2026; 3 bookings were cancelled" in page
    assert Closure.objects.get().reason == "Fermeture de Noël"
    assert status(christmas_bookings["christmas"]) == BookingStatus.CANCELLED
    assert len(mailoutbox) == 3
    assert entries("space.close")[0].actor == manager


def test_changing_the_dates_goes_back_to_the_form(as_manager, paris, christmas_bookings):
    response = as_manager.post(reverse(CLOSE_URL), {**close_data(paris), "edit": "1"})
    assert response.status_code == 200
    assert 'name="start_date"' in html(response)
    assert 'type="hidden" name="start_date"' not in html(response)
    assert not Closure.objects.exists()


def test_a_closure_without_bookings_says_so(as_manager, paris):
    page = html(as_manager.post(reverse(CLOSE_URL), close_data(paris)))
    assert "No booking is affected." in page
    assert as_manager.post(reverse(CLOSE_URL), {**close_data(paris), "confirm": "1"}).status_code == 302
    assert Closure.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"start_date": "2026-11-22"}, "A closure starts today or later."),
        ({"end_date": "2026-12-23"}, "The last day cannot be before the first day."),
        ({"end_date": "2027-12-25"}, "A closure lasts at most a year."),
        ({"start_date": "tomorrow"}, "Enter a valid date."),
        ({"reason": ""}, "This field is required."),
    ],
)
def test_bad_closure_input_is_a_form_error(as_manager, paris, christmas_bookings, changes, error):
    for extra in ({}, {"confirm": "1"}):
        response = as_manager.post(reverse(CLOSE_URL), {**close_data(paris, **changes), **extra})
        assert response.status_code == 200
        assert error in html(response)
    assert not Closure.objects.exists()
    assert status(christmas_bookings["eve"]) == BookingStatus.CONFIRMED


def test_a_manager_cannot_close_another_space_from_the_admin(as_manager, lille, christmas_bookings):
    page = html(as_manager.get(reverse(CLOSE_URL)))
    assert "Lille Centre" not in page
    response = as_manager.post(reverse(CLOSE_URL), {**close_data(lille), "confirm": "1"})
    assert response.status_code == 200
    assert "Select a valid choice." in html(response)
    assert not Closure.objects.exists()
    assert status(christmas_bookings["lille"]) == BookingStatus.CONFIRMED
