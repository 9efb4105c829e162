from celery import shared_task
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone

from coworking.health import HEARTBEAT_KEY


@shared_task(name="coworking.tasks.heartbeat")
def heartbeat() -> str:
    """Proves that beat and a worker both run; /healthz reports when it last happened."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    return now


@shared_task(name="coworking.tasks.clear_expired_sessions")
def clear_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
