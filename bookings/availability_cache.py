"""A version token per space that changes after every committed booking or cancellation there.

Cached availability is stored under the space's current token, so a change makes every older entry
unreachable at once: a page can never show a state from before a booking it follows. The token is
random rather than a counter so that a cache that lost the token (eviction, restart) can never come
back to a number whose old entries are still stored.
"""

import uuid

from django.core.cache import cache

TIMEOUT = 24 * 3600


def _key(space_id: int, what: str = "version") -> str:
    return f"availability:{what}:{space_id}"


def _version(key: str) -> str:
    version = cache.get(key)
    if version is None:
        version = uuid.uuid4().hex
        # add() so that two readers racing here agree on one token.
        if not cache.add(key, version, TIMEOUT):
            version = cache.get(key) or version
    return version


def availability_version(space_id: int) -> str:
    return _version(_key(space_id))


def bump_availability_version(space_id: int) -> None:
    cache.set(_key(space_id), uuid.uuid4().hex, TIMEOUT)


def setup_version(space_id: int) -> str:
    """A second token that changes only with the space's setup (resources, zones, hours, closures),
    not with bookings: what a page needs besides the day's bookings is cached under it."""
    return _version(_key(space_id, "setup"))


def bump_setup_version(space_id: int) -> None:
    cache.set(_key(space_id, "setup"), uuid.uuid4().hex, TIMEOUT)
