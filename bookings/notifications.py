"""The e-mails a member receives about their bookings, in their language, with the booking as .ics."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from bookings import ical
from bookings.models import Booking
from members import selectors as member_selectors


def _send(booking: Booking, *, kind: str) -> None:
    member = booking.member
    with translation.override(member_selectors.language_of(member)):
        names = {"resource": booking.resource.name, "space": booking.space.name}
        if kind == "confirmation":
            subject = _("Booking confirmed: %(resource)s, %(space)s") % names
        else:
            subject = _("Booking cancelled: %(resource)s, %(space)s") % names
        context = {
            "booking": booking,
            "space": booking.space,
            "SITE_URL": settings.SITE_URL,
            "local_start": booking.start.astimezone(booking.space.tz),
            "local_end": booking.end.astimezone(booking.space.tz),
        }
        body = render_to_string(f"bookings/email/{kind}.txt", context)
    message = EmailMultiAlternatives(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=body, to=[member.email]
    )
    message.attach(f"booking-{booking.pk}.ics", ical.calendar_for([booking], name=subject), "text/calendar")
    message.send()


def send_confirmation(booking: Booking) -> None:
    _send(booking, kind="confirmation")


def send_cancellation(booking: Booking) -> None:
    _send(booking, kind="cancellation")
