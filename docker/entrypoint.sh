#!/bin/sh
# Entry point of the coworking image. The first argument picks the role:
#   web          apply migrations, then serve with gunicorn on 0.0.0.0:8000 (WEB_CONCURRENCY workers)
#   worker       a Celery worker
#   beat         the Celery beat scheduler (run exactly one)
#   healthcheck  exit 0 when http://127.0.0.1:8000/healthz answers 200 (used by HEALTHCHECK)
#   anything else is run as given, e.g. `python manage.py createsuperuser`.
# Arguments after the role are passed on to gunicorn or celery.
set -e

migrate() {
    # `manage.py migrate --noinput`, holding a PostgreSQL advisory lock so that web replicas started
    # together (docker compose up --scale web=3) apply migrations one after the other, not at once.
    python - <<'PY'
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coworking.settings")
django.setup()

from django.core.management import call_command
from django.db import connection

LOCK_ID = 4_283_117_001  # any constant shared by every replica
locked = connection.vendor == "postgresql"
if locked:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
try:
    call_command("migrate", interactive=False)
finally:
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])
PY
}

case "${1:-}" in
    web)
        shift
        migrate
        exec gunicorn coworking.wsgi:application \
            --bind 0.0.0.0:8000 \
            --workers "${WEB_CONCURRENCY:-3}" \
            --access-logfile - \
            --worker-tmp-dir /dev/shm \
            "$@"
        ;;
    worker)
        shift
        exec celery -A coworking worker --loglevel INFO "$@"
        ;;
    beat)
        shift
        exec celery -A coworking beat --loglevel INFO --schedule /app/var/celerybeat-schedule "$@"
        ;;
    healthcheck)
        # Sent with a Host header from ALLOWED_HOSTS (Django answers 400 to any other host); /healthz
        # is exempt from the HTTPS redirect. No proxy: the request must reach this container.
        exec python - <<'PY'
import os
import sys
import urllib.request

hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(request, timeout=8) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
PY
        ;;
    *)
        exec "$@"
        ;;
esac
