"""The desk rows and room slots of the availability grid, written in Python.

A 300-desk space has 300 rows of three cells, each with a translated label: through the template
language that was about 110 µs a row, more than everything else on the page together. Here every
translated string is looked up once per render and each row is a few string formats. The markup is
exactly what `_mark_own` in bookings.views expects (`class="cell taken" data-booking="ID"><span
class="state">Taken</span>`), and tests/bookings compare it with the page's behaviour.
"""

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_noop, ngettext

from bookings.selectors import FREE, PAST, TAKEN, Cell, DayAvailability, DeskRow, RoomRow
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
        self.closed_word = conditional_escape(gettext("Closed"))
        self.free = conditional_escape(gettext("Free"))
        self.full_day = conditional_escape(gettext("Full day"))
        self.dedicated = conditional_escape(gettext("dedicated"))
        # Formats whose only variable is the desk's name, escaped when it is filled in.
        self.book = {
            "morning": gettext("Book %(desk)s in the morning"),
            "afternoon": gettext("Book %(desk)s in the afternoon"),
            "full_day": gettext("Book %(desk)s for the day"),
        }


_LABELS: dict[str, _Labels] = {}


def _labels() -> _Labels:
    """The labels in the active language, built once per process and language (catalogues are
    loaded at start-up and do not change while a process runs)."""
    language = get_language()
    labels = _LABELS.get(language)
    if labels is None:
        labels = _LABELS[language] = _Labels()
    return labels


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


# Rows without a booking (free, past or closed) are a pure function of the desk, its two states and
# the language: memoised per process, so a page whose cache a booking just emptied re-renders only the
# rows that hold bookings. Bounded: cleared when full (a few hundred bytes a row).
_ROW_MEMO: dict[tuple, str] = {}
ROW_MEMO_MAX = 20_000


@register.simple_tag
def desk_rows(rows: list[DeskRow]) -> SafeString:
    labels = None
    language = get_language()
    out = []
    for row in rows:
        resource = row.resource
        memo_key = None
        if row.morning.state != TAKEN and row.afternoon.state != TAKEN:
            memo_key = (
                language,
                resource.pk,
                resource.name,
                resource.kind,
                row.morning.state,
                row.afternoon.state,
            )
            html = _ROW_MEMO.get(memo_key)
            if html is not None:
                out.append(html)
                continue
        labels = labels or _labels()
        html = _desk_row(row, labels)
        if memo_key is not None:
            if len(_ROW_MEMO) >= ROW_MEMO_MAX:
                _ROW_MEMO.clear()
            _ROW_MEMO[memo_key] = html
        out.append(html)
    return mark_safe("".join(out))  # noqa: S308 - every variable part is escaped in _desk_row


def _desk_row(row: DeskRow, labels: _Labels) -> str:
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
    return (
        f'<tr><th scope="row">{desk}{dedicated}</th>'
        f"{_cell(row.morning, pk, 'morning', desk, labels)}"
        f"{_cell(row.afternoon, pk, 'afternoon', desk, labels)}"
        f"<td>{full_day}</td></tr>\n"
    )


@register.simple_tag
def room_slots(room: RoomRow) -> SafeString:
    labels = _labels()
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


def render_grid(availability: DayAvailability, space) -> str:
    """The whole grid of a day (what bookings/_grid.html used to render), in Python: the template
    language's per-node cost was most of what the first page after a booking still spent."""
    labels = _labels()
    day = availability.day
    out = []
    if not availability.is_open:
        if availability.closure_reason is not None:
            text = escape(gettext("The space is closed on this day"))
            if availability.closure_reason:
                text += f": {escape(availability.closure_reason)}"
            out.append(f'<p class="closed-day">{text}.</p>\n')
        else:
            out.append(f'<p class="closed-day">{escape(gettext("The space is closed on this day."))}</p>\n')
    else:
        hours = gettext("Open %(opens)s–%(closes)s (local time)") % {  # noqa: RUF001 - the msgid's dash
            "opens": f"{availability.opens:%H:%M}",
            "closes": f"{availability.closes:%H:%M}",
        }
        out.append(f'<p class="hours-today">{escape(hours)}</p>')
    heads = (
        f'<table class="desks"><thead><tr><th scope="col">{escape(gettext("Desk"))}</th>'
        f'<th scope="col">{escape(gettext("Morning"))}</th>'
        f'<th scope="col">{escape(gettext("Afternoon"))}</th>'
        f'<th scope="col"><span class="visually-hidden">{labels.full_day}</span></th></tr></thead><tbody>\n'
    )
    any_desk = escape(gettext("Book any free desk"))
    other_times = escape(gettext("Other times…"))
    for zone in availability.zones:
        out.append(
            f'<section class="zone" aria-labelledby="zone-{zone.zone_id}">\n'
            f'<h3 id="zone-{zone.zone_id}">{escape(zone.name)}</h3>\n'
        )
        if zone.desks:
            if availability.is_open:
                free = zone.free_hot_desks
                summary = ngettext(
                    "%(counter)s hot desk free all day", "%(counter)s hot desks free all day", free
                ) % {"counter": free}
                button = ""
                if free:
                    button = (
                        f' <button class="button" name="choice" value="zone:{zone.zone_id}:full_day">'
                        f"{any_desk}</button>"
                    )
                out.append(f'<p class="zone-summary">{escape(summary)}{button}</p>')
            out.append(heads)
            out.append(desk_rows(zone.desks))
            out.append("</tbody></table>")
        for room in zone.rooms:
            resource = room.resource
            people = ngettext("%(counter)s person", "%(counter)s people", resource.capacity) % {
                "counter": resource.capacity
            }
            out.append(
                f'<div class="room"><h4>{escape(resource.name)} <small>{escape(people)}</small></h4>\n'
            )
            if room.slots:
                url = reverse("bookings:book_room", kwargs={"slug": space.slug, "resource_id": resource.pk})
                out.append(
                    f'<ul class="slots">{room_slots(room)}</ul>\n'
                    f'<p><a href="{url}?date={day:%Y-%m-%d}">{other_times}</a></p>'
                )
            else:
                out.append(f'<p class="closed-day">{labels.closed_word}</p>')
            out.append("</div>\n")
        out.append("</section>\n")
    return "".join(out)
