"""A version token per space that changes after every committed booking or cancellation there.

Cached availability is stored under the space's current token, so a change makes every older entry
unreachable at once: a page can never show a state from before a booking it follows. The token is
random rather than a counter so that a cache that lost the token (eviction, restart) can never come
back to a number whose old entries are still stored.
"""

import uuid

from django.core.cache import cache

TIMEOUT = 24 * 3600


def _key(space_id: int) -> str:
    return f"availability:version:{space_id}"


def availability_version(space_id: int) -> str:
    version = cache.get(_key(space_id))
    if version is None:
        version = uuid.uuid4().hex
        # add() so that two readers racing here agree on one token.
        if not cache.add(_key(space_id), version, TIMEOUT):
            version = cache.get(_key(space_id)) or version
    return version


def bump_availability_version(space_id: int) -> None:
    cache.set(_key(space_id), uuid.uuid4().hex, TIMEOUT)
