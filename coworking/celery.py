"""The Celery application. Beat runs this static schedule in UTC; every job it starts is a catch-up
("everything due up to now"), so a missed or doubled tick is harmless."""

import logging
import os
import time

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coworking.settings")

app = Celery("coworking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "scheduler-heartbeat": {"task": "coworking.tasks.heartbeat", "schedule": 60.0},
    "booking-notifications-sweep": {"task": "bookings.sweep_notifications", "schedule": 300.0},
    # Hourly catch-up: renews what is due in every space's zone, whatever hour it is there.
    "renew-passes": {"task": "billing.renew_passes", "schedule": crontab(minute=7)},
    # Hourly catch-up, after the renewals: past due, reminders, suspensions, renewal notices.
    "billing-dunning": {"task": "billing.dunning", "schedule": crontab(minute=17)},
    # Sends the billing e-mails still owed (the job sends them after commit; this finishes the rest).
    "billing-send-notices": {"task": "billing.send_notices", "schedule": 600.0},
    # The community's e-mails (skill alerts, messages, digests, freed seats) still owed after commit.
    "community-send-emails": {"task": "community.send_emails", "schedule": 300.0},
    # Monday morning in France and Belgium; a catch-up keyed by member and ISO week, so a rerun is a no-op.
    "community-weekly-digest": {
        "task": "community.weekly_digest",
        "schedule": crontab(day_of_week=1, hour=6, minute=5),
    },
    # Card payments (when Stripe is configured): nothing stays pending or unsent to Stripe.
    "billing-card-payments-sweep": {"task": "billing.card_payments_sweep", "schedule": 900.0},
    # Export files hold members' personal data: deleted once their job has expired (7 days).
    "purge-exports": {"task": "coworking.tasks.purge_exports", "schedule": crontab(hour=3, minute=37)},
    "clear-expired-sessions": {
        "task": "coworking.tasks.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=17),
    },
}

task_logger = logging.getLogger("coworking.task")
_started: dict[str, float] = {}


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    # Keep Django's LOGGING (JSON on stdout) instead of Celery's own handlers.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    _started[task_id] = time.perf_counter()
    task_logger.info("task started %s", task.name, extra={"task_id": task_id, "task": task.name})


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    task_logger.info(
        "task finished %s %s",
        task.name,
        state,
        extra={
            "task_id": task_id,
            "task": task.name,
            "state": state,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        },
    )
