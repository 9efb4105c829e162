"""Writes on bookings: create and cancel. Every rule lives here, so that pages, the API and the admin
refuse the same things with the same messages."""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q, QuerySet

from bookings import entitlements, hooks, selectors
from bookings.availability_cache import bump_availability_version
from bookings.errors import BookingError
from bookings.models import Booking, BookingStatus, DayPart
from members import selectors as member_selectors
from members import services as member_services
from members.models import User
from spaces import localtime
from spaces import services as space_services
from spaces.models import Closure, Resource, ResourceKind, Space
from spaces.prepared import PreparedInsert, PreparedQuery

logger = logging.getLogger(__name__)
DESK_PARTS = (DayPart.FULL_DAY, DayPart.MORNING, DayPart.AFTERNOON)
# PostgreSQL's exclusion constraints (migration 0002) name the invariant a concurrent insert broke.
CONSTRAINT_CODES = {
    "booking_no_overlap_per_resource": "slot_taken",
    "booking_member_one_desk_at_a_time": "member_has_desk",
}


@dataclass(frozen=True)
class Slot:
    """What a booking request asks for, resolved to instants (in UTC: arithmetic on datetimes that share
    a local zone is wall-clock arithmetic in Python, which is wrong across a DST change)."""

    resource: Resource
    day: date
    part: str
    start: datetime
    end: datetime

    def __post_init__(self):
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))


# Far outside any booking window, and far enough from date.min/max that day arithmetic cannot overflow.
PLAUSIBLE_DAYS = (date(2000, 1, 1), date(2999, 12, 31))


def _check_plausible(day: date) -> None:
    if not PLAUSIBLE_DAYS[0] <= day <= PLAUSIBLE_DAYS[1]:
        raise BookingError("invalid")


def desk_slot(*, resource: Resource, day: date, part: str) -> Slot:
    if not resource.is_desk or part not in DESK_PARTS:
        raise BookingError("wrong_part")
    _check_plausible(day)
    space = resource.space
    if part == DayPart.FULL_DAY:
        bounds = space.day_bounds(day)
    else:
        morning, afternoon = space.half_day_bounds(day)
        bounds = morning if part == DayPart.MORNING else afternoon
    return Slot(resource, day, part, bounds.start, bounds.end)


def room_slot(*, resource: Resource, day: date, start_time: time, end_time: time) -> Slot:
    if resource.is_desk:
        raise BookingError("wrong_part")
    _check_plausible(day)
    for moment in (start_time, end_time):
        if moment.minute not in (0, 30) or moment.second or moment.microsecond:
            raise BookingError("misaligned")
    tz = resource.space.tz
    try:
        start = localtime.local_instant(day, start_time, tz)
        # 24:00 is written 00:00: a booking that ends at midnight ends on the next day.
        end_day = day + timedelta(days=1) if end_time == time(0) else day
        end = localtime.local_instant(end_day, end_time, tz)
    except localtime.NonExistentLocalTime as exc:
        raise BookingError("nonexistent_local_time", time=exc.at.strftime("%H:%M")) from None
    if end <= start:
        raise BookingError("invalid")
    return Slot(resource, day, DayPart.SLOT, start, end)


def slot_between(*, resource: Resource, start: datetime, end: datetime) -> Slot:
    """A slot from two instants (the API's "start + end" form), checked against the same rules."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise BookingError("invalid")
    tz = resource.space.tz
    try:
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    except OverflowError:
        raise BookingError("invalid") from None
    day = local_start.date()
    _check_plausible(day)
    if resource.is_room:
        slot = room_slot(resource=resource, day=day, start_time=local_start.time(), end_time=local_end.time())
        # A range that does not end on the day it starts (or at the next midnight) is not one booking.
        if slot.end != end.astimezone(UTC):
            raise BookingError("invalid")
        return slot
    for part in DESK_PARTS:
        slot = desk_slot(resource=resource, day=day, part=part)
        if slot.start == start and slot.end == end:
            return slot
    raise BookingError("wrong_part")


def _check_rules(slot: Slot, *, now: datetime) -> None:
    resource, space = slot.resource, slot.resource.space
    if not (resource.is_active and space.is_active):
        raise BookingError("resource_unavailable")
    today = localtime.local_date(now, space.tz)
    if slot.day < today or slot.end <= now:
        raise BookingError("in_past")
    if slot.day > today + timedelta(days=space.booking_window_days):
        raise BookingError("beyond_window", days=space.booking_window_days)
    # The day's hours and closures from the setup cache (bumped on commit of any change to them).
    window = selectors.day_setup(space, slot.day)[0].window
    if window is None:
        raise BookingError("closed")
    if resource.is_room:
        if slot.start < now:
            raise BookingError("in_past")
        if slot.start < window.start.astimezone(UTC) or slot.end > window.end.astimezone(UTC):
            hours = f"{window.start.astimezone(space.tz):%H:%M}-{window.end.astimezone(space.tz):%H:%M}"
            raise BookingError("outside_opening_hours", hours=hours)
        minutes = (slot.end - slot.start).total_seconds() / 60
        if minutes < resource.min_booking_minutes:
            raise BookingError("too_short", minutes=resource.min_booking_minutes)
        if minutes > resource.max_booking_minutes:
            raise BookingError("too_long", minutes=resource.max_booking_minutes)


def _rivals(*, resource_id: int, start: datetime, end: datetime, member_id: int | None = None) -> QuerySet:
    """The resources of the confirmed bookings in [start, end) that forbid the booking: the resource
    itself taken, or, for a desk (member_id given), any desk the member already holds then."""
    rivals = Q(resource_id=resource_id)
    if member_id is not None:
        rivals |= Q(member_id=member_id, is_desk=True)
    overlapping = Booking.objects.active().overlapping(start, end)
    return overlapping.filter(rivals).values_list("resource_id", flat=True)


# Run inside every booking's transaction: their SQL is built once (spaces.prepared).
_ROOM_RIVALS = PreparedQuery(_rivals, resource_id=int, start=datetime, end=datetime)
_DESK_RIVALS = PreparedQuery(_rivals, resource_id=int, start=datetime, end=datetime, member_id=int)
_NEW_BOOKING = PreparedInsert(Booking)


def booking_create(*, member: User, slot: Slot, now: datetime, booked_by: User | None = None) -> Booking:
    """Book a slot for a member, or raise BookingError. Safe under concurrency on both databases."""
    _check_rules(slot, now=now)
    decision = entitlements.check(
        member=member_selectors.member_for_user(user=member, booking=True),
        resource=slot.resource,
        day=slot.day,
    )
    for attempt in range(2):
        try:
            booking = _insert(member=member, slot=slot, booked_by=booked_by, now=now, decision=decision)
            break
        except IntegrityError as exc:
            for constraint, code in CONSTRAINT_CODES.items():
                if constraint in str(exc):
                    raise BookingError(code) from None
            raise
        except OperationalError as exc:
            # The locks below make a deadlock unexpected; should PostgreSQL still pick this transaction
            # as a deadlock victim, the whole attempt is replayed once, where it meets a clean conflict.
            if attempt or getattr(exc.__cause__, "sqlstate", None) != "40P01":
                raise
    logger.info("booking created", extra={"booking_id": booking.pk, "resource_id": slot.resource.pk})
    return booking


def _insert(*, member: User, slot: Slot, booked_by: User | None, now: datetime, decision) -> Booking:
    # On SQLite, atomic() starts an IMMEDIATE transaction: the checks and the insert run while holding
    # the database's write lock. On PostgreSQL, concurrent inserts that the exclusion constraints make
    # wait on each other's uncommitted rows can deadlock, so bookings that could conflict are serialised
    # first: the member's row (a member holds one desk at a time), then the resource's, always in this
    # order. The checks then see every committed rival; the constraints remain the backstop.
    with transaction.atomic():
        if slot.resource.is_desk:
            member_services.member_lock(user=member)
        if connection.features.has_select_for_update:
            # order_by(): Resource's default ordering joins the space, and FOR UPDATE would then lock
            # the space's row too, serialising every booking of the space.
            list(
                Resource.objects.select_for_update(of=("self",))
                .filter(pk=slot.resource.pk)
                .order_by()
                .values_list("pk", flat=True)
            )
        # One query for both conflicts: the resource taken, or (for a desk) the member holding one.
        if slot.resource.is_desk:
            held = _DESK_RIVALS.fetch(
                resource_id=slot.resource.pk, start=slot.start, end=slot.end, member_id=member.pk
            )
        else:
            held = _ROOM_RIVALS.fetch(resource_id=slot.resource.pk, start=slot.start, end=slot.end)
        if slot.resource.pk in held:
            raise BookingError("slot_taken")
        if held:
            raise BookingError("member_has_desk")
        booking = _NEW_BOOKING.create(
            resource=slot.resource,
            space=slot.resource.space,
            member=member,
            start=slot.start,
            end=slot.end,
            local_date=slot.day,
            part=slot.part,
            is_desk=slot.resource.is_desk,
            booked_by=booked_by,
        )
        # The pass, day credit or room hours it draws on, and the room's invoice, commit with it or not.
        entitlements.consume(member=member, booking=booking, now=now, decision=decision)
        # What the project registered (the community's skill alerts) writes in this transaction too.
        hooks.run_booking_confirmed(booking)
        if booked_by is not None and booked_by.pk != member.pk:
            member_services.audit_record(
                actor=booked_by,
                action="booking.create_for_member",
                target=booking,
                space_id=booking.space_id,
                after=_booking_facts(booking),
            )
        _after_commit(booking)
    return booking


def _booking_facts(booking: Booking) -> dict:
    return {
        "status": booking.status,
        "member": booking.member.email,
        "resource": booking.resource.name,
        "day": booking.local_date.isoformat(),
        "part": booking.part,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
    }


def _manages(user: User, space_id: int) -> bool:
    if not (user.is_active and user.is_staff):
        return False
    managed = member_selectors.managed_space_ids(user=user)
    return managed is None or space_id in managed


def booking_create_for_member(*, member: User, slot: Slot, now: datetime, by: User) -> Booking:
    """A manager books for a member (who called, or is at the desk): every rule and the member's
    entitlements apply as if they booked themselves; the member gets the confirmation e-mail and the
    audit log records who booked it."""
    if not _manages(by, slot.resource.space_id):
        raise BookingError("not_found")
    if not member.is_active:
        raise BookingError("invalid")
    return booking_create(member=member, slot=slot, now=now, booked_by=by)


def booking_create_any_desk(*, member: User, zone, day: date, part: str, now: datetime) -> Booking:
    """Book the first free desk of a zone; a desk taken meanwhile just moves on to the next one."""
    # Dedicated desks are assigned to someone: "any desk" means any hot desk.
    desks = list(
        Resource.objects.filter(zone=zone, is_active=True, kind=ResourceKind.HOT_DESK)
        .select_related("space")
        .order_by("position", "name")
    )
    if not desks:
        raise BookingError("no_free_desk")
    first = desk_slot(resource=desks[0], day=day, part=part)
    taken = set(
        Booking.objects.active()
        .overlapping(first.start, first.end)
        .filter(resource__in=desks)
        .values_list("resource_id", flat=True)
    )
    for desk in desks:
        if desk.pk in taken:
            continue
        try:
            return booking_create(member=member, slot=desk_slot(resource=desk, day=day, part=part), now=now)
        except BookingError as error:
            if error.code != "slot_taken":
                raise
    raise BookingError("no_free_desk")


def _cutoff(booking: Booking) -> datetime:
    return booking.start - timedelta(hours=booking.space.cancellation_cutoff_hours)


def can_cancel(booking: Booking, *, now: datetime) -> bool:
    return booking.is_active and now <= _cutoff(booking)


def booking_cancel(*, booking: Booking, by: User, now: datetime, reason: str = "") -> Booking:
    """Cancel a booking: by its member until the space's cut-off, or by a manager of its space with a
    reason the member receives. The booking stays in history; its slot is free again at once."""
    is_owner = booking.member_id == by.pk
    managed = member_selectors.managed_space_ids(user=by) if by.is_staff else set()
    as_manager = by.is_staff and (managed is None or booking.space_id in managed)
    if not (is_owner or as_manager):
        raise BookingError("not_found")
    if not booking.is_active:
        raise BookingError("already_cancelled")
    if as_manager and not is_owner:
        reason = " ".join(reason.split())
        if not reason:
            raise BookingError("reason_required")
        if booking.end <= now:
            raise BookingError("in_past")
    elif not can_cancel(booking, now=now):
        raise BookingError("cancellation_closed", hours=booking.space.cancellation_cutoff_hours)
    with transaction.atomic():
        # Claimed with a conditional update: of two simultaneous cancellations exactly one wins.
        updated = Booking.objects.filter(pk=booking.pk, status=BookingStatus.CONFIRMED).update(
            status=BookingStatus.CANCELLED,
            cancelled_at=now,
            cancelled_by=by,
            cancellation_reason=reason[:300],
            cancellation_notice_pending=True,
        )
        if updated != 1:
            raise BookingError("already_cancelled")
        booking.refresh_from_db()
        entitlements.release(booking=booking, today=localtime.local_date(now, booking.space.tz))
        if as_manager and not is_owner:
            member_services.audit_record(
                actor=by,
                action="booking.cancel",
                target=booking,
                space_id=booking.space_id,
                before={**_booking_facts(booking), "status": BookingStatus.CONFIRMED},
                after={"status": BookingStatus.CANCELLED},
                note=reason,
            )
        _after_commit(booking)
    logger.info(
        "booking cancelled", extra={"booking_id": booking.pk, "by_manager": as_manager and not is_owner}
    )
    return booking


# --- closures -------------------------------------------------------------------------------------------


def bookings_affected_by_closure(*, space: Space, start_date: date, end_date: date) -> QuerySet[Booking]:
    """The confirmed bookings of `space` on the days from `start_date` to `end_date` (both included), in
    the order of the day: what closing those days cancels (a booking is on the local day it starts)."""
    return (
        Booking.objects.active()
        .filter(space=space, local_date__gte=start_date, local_date__lte=end_date)
        .select_related("resource", "member__member", "space")
        .order_by("start", "resource__name")
    )


def cancel_for_closure(
    *,
    by: User,
    now: datetime,
    reason: str = "",
    closure: Closure | None = None,
    space: Space | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
) -> list[Booking]:
    """Cancels the confirmed bookings that a closure (or the days from `start_date` to `end_date` at
    `space`) makes impossible, each through booking_cancel by the manager `by`, with `reason` (the
    closure's own reason by default): each member gets the cancellation e-mail with it, gets back what
    the booking took, and the audit log has one entry per booking. Bookings already over are left as
    they are. Returns the bookings cancelled."""
    if closure is not None:
        space, start_date, end_date = closure.space, closure.start_date, closure.end_date
        reason = reason or closure.reason
    if space is None or start_date is None or end_date is None:
        raise BookingError("invalid")
    if not _manages(by, space.pk):
        raise BookingError("not_found")
    if not " ".join(reason.split()):
        raise BookingError("reason_required")
    cancelled = []
    with transaction.atomic():
        affected = bookings_affected_by_closure(space=space, start_date=start_date, end_date=end_date)
        for booking in affected.filter(end__gt=now):
            try:
                cancelled.append(booking_cancel(booking=booking, by=by, now=now, reason=reason))
            except BookingError as error:
                if error.code != "already_cancelled":  # cancelled meanwhile: nothing left to do
                    raise
    return cancelled


def space_close(
    *, space: Space, start_date: date, end_date: date, reason: str, by: User, now: datetime
) -> tuple[Closure, list[Booking]]:
    """A manager closes a space for some days (a holiday, works): the closure is recorded, so nobody
    can book those days any more, and the bookings already made on them are cancelled, their members
    told with `reason`. One transaction, with an audit entry for the closure and one per booking."""
    reason = " ".join(reason.split())
    if not _manages(by, space.pk):
        raise BookingError("not_found")
    if not reason:
        raise BookingError("reason_required")
    if end_date < start_date:
        raise BookingError("invalid")
    if start_date < localtime.local_date(now, space.tz):
        raise BookingError("in_past")
    _check_plausible(start_date)
    _check_plausible(end_date)
    with transaction.atomic():
        closure = space_services.closure_create(
            space=space, start_date=start_date, end_date=end_date, reason=reason
        )
        cancelled = cancel_for_closure(closure=closure, by=by, now=now, reason=reason)
        member_services.audit_record(
            actor=by,
            action="space.close",
            target=closure,
            space_id=space.pk,
            after={
                "start_date": start_date.isoformat(),
                "end_date": end_date.isoformat(),
                "reason": reason,
                "cancelled_bookings": [booking.pk for booking in cancelled],
            },
            note=reason,
        )
    logger.info("space closed", extra={"space_id": space.pk, "cancelled": len(cancelled)})
    return closure, cancelled


def _after_commit(booking: Booking) -> None:
    from bookings import tasks

    space_id = booking.space_id
    transaction.on_commit(lambda: bump_availability_version(space_id))
    # The e-mail owed is already flagged on the booking's row: the flush sends it, or, if the broker is
    # down, the sweep.
    transaction.on_commit(tasks.enqueue_flush)


def calendar_feed_token(*, member: User, regenerate: bool = False) -> str:
    """The secret token of a member's calendar feed; regenerating it cuts off every old subscription."""
    import secrets

    from bookings.models import CalendarFeed

    feed, created = CalendarFeed.objects.get_or_create(
        member=member, defaults={"token": secrets.token_urlsafe(32)}
    )
    if regenerate and not created:
        feed.token = secrets.token_urlsafe(32)
        feed.save(update_fields=["token"])
    return feed.token
