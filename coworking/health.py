"""Readiness checks used by /healthz: can we reach the database and the broker right now?"""

import logging
import os
import time
from pathlib import Path

from django.core.cache import cache
from django.db import connection

from coworking.celery import app

logger = logging.getLogger(__name__)
HEARTBEAT_KEY = "scheduler:heartbeat"


def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("database health check failed", extra={"error": str(exc)})
        return {"ok": False, "error": exc.__class__.__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_broker() -> dict:
    started = time.perf_counter()
    transport = app.conf.broker_url.split("://", 1)[0]
    try:
        if transport == "filesystem":
            # The filesystem transport "connects" without touching the disk: check its queue folder.
            folder = Path(app.conf.broker_transport_options["data_folder_in"])
            if not (folder.is_dir() and os.access(folder, os.R_OK | os.W_OK)):
                raise OSError(f"queue folder {folder} is missing or not writable")
        else:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        logger.warning("broker health check failed", extra={"error": str(exc)})
        return {"ok": False, "transport": transport, "error": exc.__class__.__name__}
    return {
        "ok": True,
        "transport": transport,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def scheduler_status() -> dict:
    """When beat and a worker last ran the heartbeat job (informational: it does not fail the check)."""
    try:
        last = cache.get(HEARTBEAT_KEY)
    except Exception:
        last = None
    return {"last_heartbeat": last}
