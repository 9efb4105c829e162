"""Availability caches follow the space's setup, not only its bookings.

A new closure, changed opening hours, a desk added or withdrawn, a renamed zone: each changes what the
availability page shows, so each makes the space's cached pages unreachable, after commit like a
booking does (bookings may import spaces; spaces knows nothing of this cache).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from bookings.availability_cache import bump_availability_version, bump_setup_version
from spaces.models import Closure, OpeningHours, Resource, Space, Zone


def _bump_for(sender, instance, **kwargs) -> None:
    space_id = instance.pk if sender is Space else instance.space_id
    if space_id is not None:
        transaction.on_commit(lambda: (bump_setup_version(space_id), bump_availability_version(space_id)))


def connect() -> None:
    for model in (Space, OpeningHours, Closure, Zone, Resource):
        post_save.connect(_bump_for, sender=model, dispatch_uid=f"availability-{model.__name__}-save")
        post_delete.connect(_bump_for, sender=model, dispatch_uid=f"availability-{model.__name__}-delete")
