from celery import shared_task
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone

from coworking import exports
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


@shared_task(name="coworking.tasks.export_csv")
def export_csv(job_id: str) -> str:
    """Writes a large CSV export to storage (coworking.exports.job_run); safe to run twice."""
    return exports.job_run(job_id=job_id)


@shared_task(name="coworking.tasks.purge_exports")
def purge_exports() -> int:
    """Deletes export files older than their jobs (they hold members' personal data)."""
    return exports.export_files_purge()
