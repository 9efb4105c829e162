import logging

from django.apps import AppConfig
from django.db import transaction

logger = logging.getLogger(__name__)


def _skill_alerts_on_booking(*, booking) -> None:
    """Records the skill alerts a booking owes, in the booking's transaction. In a savepoint: should the
    community fail, the booking still goes through (an alert is worth less than a desk), and the error
    is logged."""
    from community import selectors as community_selectors
    from community import services as community_services

    try:
        # Most bookings owe no alert: nobody asked about any skill at this space. That is known from the
        # cache, before opening a savepoint or reading a row.
        if not community_selectors.alert_skill_ids(space_id=booking.space_id):
            return
        with transaction.atomic():
            community_services.skill_alerts_on_booking(
                user_id=booking.member_id, space_id=booking.space_id, day=booking.local_date
            )
    except Exception:
        logger.exception("skill alerts not recorded", extra={"booking_id": booking.pk})


class CoworkingConfig(AppConfig):
    name = "coworking"

    def ready(self) -> None:
        # The project wires the apps that may not import each other (DESIGN.md): bookings tells the
        # community about confirmed bookings (skill alerts, written in the booking's transaction) and
        # adds the events a member registered for to their calendar feed; the community reads who is in
        # from bookings. Neither bookings nor the community imports the other.
        from bookings import hooks as booking_hooks
        from bookings import selectors as booking_selectors
        from community import ical as community_ical
        from community import presence

        presence.register(booking_selectors.members_present)
        if _skill_alerts_on_booking not in booking_hooks.booking_confirmed:
            booking_hooks.booking_confirmed.append(_skill_alerts_on_booking)
        if community_ical.feed_components not in booking_hooks.feed_sources:
            booking_hooks.feed_sources.append(community_ical.feed_components)
