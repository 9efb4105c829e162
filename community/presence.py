"""Who holds a booking at a space on a day: the community needs it ("who is in today") but may not import
bookings (DESIGN.md: community -> members, spaces). The project package registers bookings' selector
here at start-up (coworking.apps); without one, nobody is in."""

from collections.abc import Callable
from datetime import date

_source: Callable[..., dict[date, list[int]]] | None = None


def register(source: Callable[..., dict[date, list[int]]]) -> None:
    """source(space_id=..., days=[...]) -> {day: [user ids, in the order they are expected]}."""
    global _source
    _source = source


def members_present(*, space_id: int, days: list[date]) -> dict[date, list[int]]:
    if _source is None:
        return {day: [] for day in days}
    return _source(space_id=space_id, days=days)
