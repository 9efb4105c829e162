"""The desk rows and room slots of the availability grid, written in Python.

A 300-desk space has 300 rows of three cells, each with a translated label: through the template
language that was about 110 µs a row, more than everything else on the page together. Here every
translated string is looked up once per render and each row is a few string formats. The markup is
exactly what `_mark_own` in bookings.views expects (`class="cell taken" data-booking="ID"><span
class="state">Taken</span>`), and tests/bookings compare it with the page's behaviour.
"""

from django import template
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from bookings.selectors import FREE, PAST, TAKEN, Cell, DeskRow, RoomRow
from spaces.models import ResourceKind

register = template.Library()


def state_label(text: str) -> str:
    """A translated state as the grid writes it (also what bookings.views._mark_own looks for); text
    is a msgid marked with gettext_noop so that makemessages finds it."""
    return str(conditional_escape(gettext(text)))


class _Labels:
    def __init__(self) -> None:
        self.taken = state_label(gettext_noop("Taken"))
        self.past = state_label(gettext_noop("Past"))
        self.closed = state_label(gettext_noop("Closed"))
        self.free = conditional_escape(gettext("Free"))
        self.full_day = conditional_escape(gettext("Full day"))
        self.dedicated = conditional_escape(gettext("dedicated"))
        # Formats whose only variable is the desk's name, escaped when it is filled in.
        self.book = {
            "morning": gettext("Book %(desk)s in the morning"),
            "afternoon": gettext("Book %(desk)s in the afternoon"),
            "full_day": gettext("Book %(desk)s for the day"),
        }


def _cell(cell: Cell, pk: int, part: str, desk: str, labels: _Labels) -> str:
    if cell.state == TAKEN:
        return (
            f'<td class="cell taken" data-booking="{cell.booking_id}">'
            f'<span class="state">{labels.taken}</span></td>'
        )
    if cell.state == FREE:
        label = labels.book[part] % {"desk": desk}
        return (
            f'<td class="cell free"><button name="choice" value="desk:{pk}:{part}" aria-label="{label}">'
            f"{labels.free}</button></td>"
        )
    if cell.state == PAST:
        return f'<td class="cell past"><span class="state">{labels.past}</span></td>'
    return f'<td class="cell closed"><span class="state">{labels.closed}</span></td>'


@register.simple_tag
def desk_rows(rows: list[DeskRow]) -> SafeString:
    labels = _Labels()
    out = []
    for row in rows:
        resource = row.resource
        pk, desk = resource.pk, escape(resource.name)
        dedicated = (
            f" <small>({labels.dedicated})</small>" if resource.kind == ResourceKind.DEDICATED_DESK else ""
        )
        full_day = ""
        if row.full_day_free:
            label = labels.book["full_day"] % {"desk": desk}
            full_day = (
                f'<button class="button small" name="choice" value="desk:{pk}:full_day" '
                f'aria-label="{label}">{labels.full_day}</button>'
            )
        out.append(
            f'<tr><th scope="row">{desk}{dedicated}</th>'
            f"{_cell(row.morning, pk, 'morning', desk, labels)}"
            f"{_cell(row.afternoon, pk, 'afternoon', desk, labels)}"
            f"<td>{full_day}</td></tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every variable part above is escaped


@register.simple_tag
def room_slots(room: RoomRow) -> SafeString:
    labels = _Labels()
    book = gettext("Book %(room)s from %(start)s to %(end)s")
    pk, name = room.resource.pk, escape(room.resource.name)
    out = []
    for slot in room.slots:
        cell = slot.cell
        start, end = f"{slot.start:%H:%M}", f"{slot.end:%H:%M}"
        if cell.state == TAKEN:
            out.append(
                f'<li class="cell taken" data-booking="{cell.booking_id}"><span class="state">'
                f'{labels.taken}</span> <span class="time">{start}</span></li>'
            )
        elif cell.state == FREE:
            label = book % {"room": name, "start": start, "end": end}
            out.append(
                f'<li class="cell free"><button name="choice" value="room:{pk}:{start}-{end}" '
                f'aria-label="{label}">{start}</button></li>'
            )
        else:
            out.append(
                f'<li class="cell past"><span class="state">{labels.past}</span> <span class="time">'
                f"{start}</span></li>"
            )
    return mark_safe("".join(out))  # noqa: S308 - every variable part above is escaped
