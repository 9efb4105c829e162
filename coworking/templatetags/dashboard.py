"""Formatting for the managers' dashboard: {% load dashboard %}. The figures come from
coworking.dashboard through the view; these filters only write them in the active language."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from billing.documents import format_quantity

register = template.Library()

EMPTY = "—"


def format_percent(value: Decimal | int | None) -> str:
    """37.5 -> "37.5%" in English, "37,5 %" in French (billing's msgid for rates); None -> "—"."""
    if value is None:
        return EMPTY
    return _("%(rate)s%%") % {"rate": number_format(value, decimal_pos=1, use_l10n=True)}


def format_decimal(value: Decimal | int | None, places: int = 1) -> str:
    if value is None:
        return EMPTY
    return number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def percent(value) -> str:
    """{{ occupancy.desk_rate|percent }}"""
    return format_percent(value)


@register.filter
def decimal(value, places: int = 1) -> str:
    """{{ occupancy.room_hours|decimal }} or {{ occupancy.desks_booked|decimal:1 }}: localised."""
    return format_decimal(value, int(places))


@register.filter
def quantity(value) -> str:
    """{{ occupancy.desks_booked|quantity }}: 3 -> "3", 3.5 -> "3.5" ("3,5" in French)."""
    return EMPTY if value is None else format_quantity(Decimal(value))
