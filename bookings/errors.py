"""Every way a booking request can be refused, with a stable code for the API and a translated message
for the pages. HTTP status: 409 for a conflict with another booking or state, 422 for a request that
breaks a rule, 403 for a member who may not book yet, 404 for what does not exist (or is not theirs)."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "invalid": (400, _("This request is not valid.")),
    "not_found": (404, _("This booking or resource does not exist.")),
    "resource_unavailable": (422, _("This desk or room cannot be booked.")),
    "profile_incomplete": (403, _("Complete your profile (your name) before booking.")),
    "not_entitled": (403, _("You need a pass or a day credit to book this desk.")),
    "dedicated_plan_needed": (403, _("This desk is reserved for members with a dedicated-desk plan.")),
    "suspended": (
        403,
        _("Your pass is suspended for an unpaid invoice: settle it to book again (existing bookings stay)."),
    ),
    "in_past": (422, _("This time is already past.")),
    "beyond_window": (422, _("This day is too far ahead: bookings open %(days)s days in advance.")),
    "closed": (422, _("The space is closed on this day.")),
    "outside_opening_hours": (422, _("The room must be booked within the opening hours (%(hours)s).")),
    "misaligned": (422, _("Bookings start and end on the hour or the half hour.")),
    "too_short": (422, _("This room is booked for at least %(minutes)s minutes.")),
    "too_long": (422, _("This room is booked for at most %(minutes)s minutes.")),
    "nonexistent_local_time": (422, _("%(time)s does not exist on that day (the clocks change).")),
    "wrong_part": (422, _("Desks are booked by the day or the half day; rooms by time range.")),
    "slot_taken": (409, _("Sorry, this slot has just been taken. Please choose another one.")),
    "no_free_desk": (409, _("There is no free desk left in this zone for that time.")),
    "member_has_desk": (409, _("You already have a desk booked at that time.")),
    "already_cancelled": (409, _("This booking is already cancelled.")),
    "cancellation_closed": (
        409,
        _("This booking can no longer be cancelled online: the cut-off is %(hours)s hours before it starts."),
    ),
    "reason_required": (422, _("Give a reason: the member will read it.")),
}


class BookingError(Exception):
    def __init__(self, code: str, **params):
        if code not in MESSAGES:
            raise ValueError(f"unknown booking error code {code!r}")
        self.code = code
        self.params = params
        self.status, self._message = MESSAGES[code]
        super().__init__(code)

    @property
    def message(self) -> str:
        return str(self._message) % self.params if self.params else str(self._message)
