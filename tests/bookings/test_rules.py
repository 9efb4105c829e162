"""The booking rules, through the service every page and the API use."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, BookingStatus
from tests.bookings.conftest import PARIS
from tests.factories import ClosureFactory, UserFactory

TUESDAY = date(2026, 11, 24)


def duration(booking):
    return booking.end.astimezone(UTC) - booking.start.astimezone(UTC)


def book_desk(member, desk, day=TUESDAY, part="full_day", *, now):
    return services.booking_create(
        member=member, slot=services.desk_slot(resource=desk, day=day, part=part), now=now
    )


def book_room(member, room, start, end, day=TUESDAY, *, now):
    slot = services.room_slot(resource=room, day=day, start_time=start, end_time=end)
    return services.booking_create(member=member, slot=slot, now=now)


def refused(code, call, *args, **kwargs):
    with pytest.raises(BookingError) as raised:
        call(*args, **kwargs)
    assert raised.value.code == code, raised.value.message
    return raised.value


def test_a_full_day_desk_booking_holds_the_local_day(camille, desk, now):
    booking = book_desk(camille, desk, now=now)
    assert booking.start == datetime(2026, 11, 24, 0, 0, tzinfo=PARIS)
    assert booking.end == datetime(2026, 11, 25, 0, 0, tzinfo=PARIS)
    assert booking.local_date == TUESDAY
    assert booking.is_desk
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.confirmation_pending


def test_half_days_split_at_the_space_time_and_can_be_booked_by_two_members(camille, yanis, desk, now):
    morning = book_desk(camille, desk, part="morning", now=now)
    afternoon = book_desk(yanis, desk, part="afternoon", now=now)
    assert morning.end == afternoon.start == datetime(2026, 11, 24, 13, 0, tzinfo=PARIS)


def test_it_refuses_an_overlapping_booking_of_the_same_desk(camille, yanis, desk, now):
    book_desk(camille, desk, part="morning", now=now)
    refused("slot_taken", book_desk, yanis, desk, part="full_day", now=now)
    assert Booking.objects.count() == 1


def test_a_member_never_holds_two_desks_at_the_same_time(camille, desk, desk2, now):
    book_desk(camille, desk, part="afternoon", now=now)
    refused("member_has_desk", book_desk, camille, desk2, part="full_day", now=now)
    assert book_desk(camille, desk2, part="morning", now=now)


def test_a_member_may_hold_a_desk_and_a_room_at_the_same_time(camille, desk, room, now):
    book_desk(camille, desk, now=now)
    assert book_room(camille, room, time(10), time(11), now=now)


def test_cancelled_bookings_free_the_slot_at_once(camille, yanis, desk, now):
    thursday = date(2026, 11, 26)
    booking = book_desk(camille, desk, day=thursday, now=now)
    services.booking_cancel(booking=booking, by=camille, now=now)
    assert book_desk(yanis, desk, day=thursday, now=now)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancelled_at == now


def test_no_booking_in_the_past(camille, desk, room, now):
    refused("in_past", book_desk, camille, desk, day=date(2026, 11, 22), now=now)
    refused(
        "in_past",
        book_desk,
        camille,
        desk,
        day=date(2026, 11, 23),
        part="morning",
        now=datetime(2026, 11, 23, 13, 0, tzinfo=PARIS),
    )
    refused("in_past", book_room, camille, room, time(9), time(10), day=date(2026, 11, 23), now=now)


def test_today_is_bookable_until_it_is_over(camille, desk, now):
    assert book_desk(camille, desk, day=date(2026, 11, 23), part="afternoon", now=now)


def test_no_booking_beyond_the_booking_window(camille, desk, now):
    last = now.date() + timedelta(days=desk.space.booking_window_days)
    assert book_desk(camille, desk, day=last, now=now)
    error = refused("beyond_window", book_desk, camille, desk, day=last + timedelta(days=1), now=now)
    assert "60" in error.message


def test_no_booking_on_a_closed_weekday_or_a_closure(camille, desk, now):
    desk.space.opening_hours.filter(weekday=TUESDAY.weekday()).delete()
    refused("closed", book_desk, camille, desk, now=now)
    ClosureFactory(space=desk.space, start_date=date(2026, 12, 24), end_date=date(2026, 12, 26))
    refused("closed", book_desk, camille, desk, day=date(2026, 12, 25), now=now)


def test_rooms_start_and_end_on_the_hour_or_half_hour(camille, room, now):
    assert book_room(camille, room, time(9, 30), time(10, 30), now=now)
    refused("misaligned", book_room, camille, room, time(11, 15), time(12, 15), now=now)


def test_rooms_stay_inside_opening_hours(camille, room, now):
    error = refused("outside_opening_hours", book_room, camille, room, time(8), time(9), now=now)
    assert "08:30-19:00" in error.message
    refused("outside_opening_hours", book_room, camille, room, time(18), time(20), now=now)


def test_rooms_have_a_minimum_and_maximum_duration(camille, room, now):
    refused("too_short", book_room, camille, room, time(10), time(10, 30), now=now)
    refused("too_long", book_room, camille, room, time(9), time(13, 30), now=now)
    assert book_room(camille, room, time(9), time(13), now=now)


def test_overlapping_room_ranges_conflict_but_touching_ones_do_not(camille, yanis, room, now):
    book_room(camille, room, time(10), time(11), now=now)
    refused("slot_taken", book_room, yanis, room, time(10, 30), time(11, 30), now=now)
    assert book_room(yanis, room, time(11), time(12), now=now)


def test_a_desk_cannot_be_booked_by_time_range_nor_a_room_by_day_part(camille, desk, room, now):
    refused("wrong_part", book_room, camille, desk, time(10), time(11), now=now)
    refused("wrong_part", book_desk, camille, room, now=now)


def test_an_inactive_desk_cannot_be_booked(camille, desk, now):
    desk.is_active = False
    desk.save()
    refused("resource_unavailable", book_desk, camille, desk, now=now)


def test_an_incomplete_profile_cannot_book(desk, now):
    refused("profile_incomplete", book_desk, UserFactory(), desk, now=now)


def test_any_free_desk_books_the_first_free_hot_desk_of_the_zone(camille, yanis, desk, desk2, now):
    book_desk(camille, desk, now=now)
    booking = services.booking_create_any_desk(
        member=yanis, zone=desk.zone, day=TUESDAY, part="full_day", now=now
    )
    assert booking.resource == desk2
    third = UserFactory(member__display_name="Léa")
    refused(
        "no_free_desk",
        services.booking_create_any_desk,
        member=third,
        zone=desk.zone,
        day=TUESDAY,
        part="full_day",
        now=now,
    )


def test_a_member_cancels_until_the_cut_off_and_not_after(camille, desk, now):
    booking = book_desk(camille, desk, now=now)  # starts Tuesday 00:00, cut-off 24 h before: Monday 00:00
    error = refused("cancellation_closed", services.booking_cancel, booking=booking, by=camille, now=now)
    assert "24" in error.message
    later = book_desk(camille, desk, day=date(2026, 11, 26), now=now)
    services.booking_cancel(booking=later, by=camille, now=now)
    refused("already_cancelled", services.booking_cancel, booking=later, by=camille, now=now)


def test_another_member_cannot_cancel_a_booking(camille, yanis, desk, now):
    booking = book_desk(camille, desk, day=date(2026, 11, 27), now=now)
    refused("not_found", services.booking_cancel, booking=booking, by=yanis, now=now)
    booking.refresh_from_db()
    assert booking.is_active


def test_a_manager_of_the_space_cancels_with_a_reason_even_after_the_cut_off(camille, desk, now):
    from tests.factories import ManagerFactory

    manager = ManagerFactory(spaces=[desk.space])
    booking = book_desk(camille, desk, now=now)
    refused("reason_required", services.booking_cancel, booking=booking, by=manager, now=now, reason="  ")
    services.booking_cancel(booking=booking, by=manager, now=now, reason="Dégât des eaux")
    booking.refresh_from_db()
    assert booking.cancellation_reason == "Dégât des eaux"
    assert booking.cancelled_by == manager
    assert booking.cancellation_notice_pending


def test_a_manager_of_another_space_cannot_cancel(camille, desk, now):
    from tests.factories import ManagerFactory, SpaceFactory

    manager = ManagerFactory(spaces=[SpaceFactory()])
    booking = book_desk(camille, desk, now=now)
    refused("not_found", services.booking_cancel, booking=booking, by=manager, now=now, reason="No")


class TestDaylightSaving:
    """Bookings on the days clocks change keep the right length and local times."""

    def test_a_full_day_on_the_spring_forward_day_lasts_23_hours(self, camille, desk, now):
        day = date(2027, 3, 28)
        booking = book_desk(camille, desk, day=day, now=datetime(2027, 3, 1, 9, tzinfo=PARIS))
        assert duration(booking) == timedelta(hours=23)
        assert booking.start.astimezone(PARIS).hour == 0

    def test_a_full_day_on_the_fall_back_day_lasts_25_hours(self, camille, desk, now):
        booking = book_desk(camille, desk, day=date(2026, 10, 25), now=datetime(2026, 10, 1, 9, tzinfo=PARIS))
        assert duration(booking) == timedelta(hours=25)

    def test_a_morning_on_the_spring_forward_day_is_one_hour_shorter(self, camille, desk):
        booking = book_desk(
            camille, desk, day=date(2027, 3, 28), part="morning", now=datetime(2027, 3, 1, 9, tzinfo=PARIS)
        )
        assert duration(booking) == timedelta(hours=12)
        assert booking.end.astimezone(PARIS).time() == time(13)

    def test_a_room_booked_across_the_change_keeps_its_wall_clock_times(self, camille, room):
        room.space.opening_hours.update(opens=time(0, 30), closes=time(23))
        room.max_booking_minutes = 240
        room.save()
        booking = book_room(
            camille, room, time(1), time(4), day=date(2027, 3, 28), now=datetime(2027, 3, 1, 9, tzinfo=PARIS)
        )
        assert duration(booking) == timedelta(hours=2)
        assert booking.start.astimezone(PARIS).time() == time(1)
        assert booking.end.astimezone(PARIS).time() == time(4)

    def test_a_time_skipped_by_the_change_is_refused(self, camille, room):
        room.space.opening_hours.update(opens=time(0, 30), closes=time(23))
        error = refused(
            "nonexistent_local_time",
            book_room,
            camille,
            room,
            time(2, 30),
            time(3, 30),
            day=date(2027, 3, 28),
            now=datetime(2027, 3, 1, 9, tzinfo=PARIS),
        )
        assert "02:30" in error.message

    def test_a_brussels_space_counts_days_in_its_own_zone(self, camille):
        from zoneinfo import ZoneInfo

        from tests.factories import ResourceFactory, SpaceFactory, ZoneFactory

        space = SpaceFactory(time_zone="Europe/Brussels", country="BE", weekdays=[0, 1, 2, 3, 4, 5, 6])
        desk = ResourceFactory(zone=ZoneFactory(space=space))
        # 23:30 UTC on Monday is already Tuesday in Brussels: Monday cannot be booked any more.
        late_monday = datetime(2026, 11, 23, 23, 30, tzinfo=ZoneInfo("UTC"))
        refused("in_past", book_desk, camille, desk, day=date(2026, 11, 23), now=late_monday)
        booking = book_desk(camille, desk, day=date(2026, 11, 24), now=late_monday)
        assert booking.start == datetime(2026, 11, 24, tzinfo=ZoneInfo("Europe/Brussels"))


def test_slot_between_accepts_exact_desk_parts_and_room_ranges(desk, room):
    morning = services.desk_slot(resource=desk, day=TUESDAY, part="morning")
    assert services.slot_between(resource=desk, start=morning.start, end=morning.end).part == "morning"
    refused(
        "wrong_part",
        services.slot_between,
        resource=desk,
        start=morning.start,
        end=morning.end + timedelta(hours=1),
    )
    start = datetime(2026, 11, 24, 9, tzinfo=PARIS)
    assert services.slot_between(resource=room, start=start, end=start + timedelta(hours=2)).part == "slot"
    refused("invalid", services.slot_between, resource=room, start=start, end=start)


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1, 1, 1)])
def test_absurd_dates_are_refused_not_crashed_on(desk, room, day):
    refused("invalid", services.desk_slot, resource=desk, day=day, part="full_day")
    refused("invalid", services.room_slot, resource=room, day=day, start_time=time(10), end_time=time(11))


def test_a_room_range_over_several_days_is_refused(room):
    start = datetime(2026, 11, 25, 10, tzinfo=PARIS)
    refused(
        "invalid",
        services.slot_between,
        resource=room,
        start=start,
        end=datetime(2026, 11, 27, 11, tzinfo=PARIS),
    )
