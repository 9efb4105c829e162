"""Writes on spaces that other apps call (spaces imports no app of ours: who may do them, and the audit
log, are the caller's business)."""

from datetime import date

from django.db import transaction

from spaces.models import Closure, Space


@transaction.atomic
def closure_create(*, space: Space, start_date: date, end_date: date, reason: str = "") -> Closure:
    """Closes a space from `start_date` to `end_date` (both included). Saved through the model, so the
    availability caches follow at commit (bookings.signals) and booking is refused on those days."""
    closure = Closure(space=space, start_date=start_date, end_date=end_date, reason=" ".join(reason.split()))
    closure.full_clean()
    closure.save()
    return closure
