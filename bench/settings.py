"""Settings for the benchmarks: production-like (DEBUG off) without anything external to set up.

The environment still wins for every variable, so DATABASE_URL or REDIS_URL select what is measured
(except DEBUG: the harness always starts gunicorn with DEBUG=0). Without DATABASE_URL, the benchmarks
use var/bench.sqlite3.
"""

import os

# Production settings refuse to start without these; the values suit only a loopback server.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-deployment-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("DEBUG", "0")
# wrk speaks plain HTTP to 127.0.0.1: a redirect to https would measure nothing but the redirect.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("ALLOW_CONSOLE_EMAIL", "1")
# One JSON log line per request would make the benchmark measure stdout rather than Django.
os.environ.setdefault("LOG_LEVEL", "WARNING")

from coworking.settings import *  # noqa: F403
from coworking.settings import STORAGES as _STORAGES

ROOT_URLCONF = "bench.urls"

# Without DATABASE_URL the benchmarks get a SQLite file of their own: their 300-desk space and load
# bookings must never show up in the development database that `make run` serves.
if not os.environ.get("DATABASE_URL"):
    DATABASES["default"]["NAME"] = VAR_DIR / "bench.sqlite3"  # noqa: F405

# The manifest storage needs `collectstatic` first; the floor serves no static files anyway.
STORAGES = {
    **_STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# BENCH_COLD=1 (B1c's second server): the availability cache is off, so every request computes the
# page as the first request after a booking does (the booking changed the space's version token, so
# no cached page, grid or "your bookings" entry applies). The rest (sessions, the space by slug) is
# cached as usual: a booking does not make those cold.
if os.environ.get("BENCH_COLD", "").strip().lower() in {"1", "true", "yes", "on"}:
    AVAILABILITY_CACHE = False

# The confirmation e-mails of B5's bookings go to a queue of their own, which no worker reads and which
# the harness purges: publishing costs the same, and nobody's worker sends hundreds of bench e-mails.
CELERY_TASK_DEFAULT_QUEUE = "bench"
