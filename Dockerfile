# syntax=docker/dockerfile:1
# Production image: one image for the web server, the Celery worker and Celery beat (docker/entrypoint.sh
# picks the role). Build with `docker compose build` or `docker build -t coworking .`.

ARG PYTHON_IMAGE=python:3.12-slim

# ---- builder: a virtualenv holding the project and its pinned runtime dependencies ------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# Runtime dependencies only (not the [dev] extra); constraints.txt pins every version, dev tools included,
# which -c allows: a constraint is only applied to what actually gets installed.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c constraints.txt .

# ---- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# The code runs from /app (templates/, static/ and locale/ live next to the packages, outside the
# installed distribution), so /app comes first on the import path.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=coworking.settings \
    VAR_DIR=/app/var \
    WEB_CONCURRENCY=3

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The code stays owned by root: the app user can read it, not change it.
COPY . .

# Static files are collected (hashed and compressed, served by whitenoise from /app/var/static) at build
# time; these values exist only for this command and are not part of the image's environment.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=localhost ALLOW_CONSOLE_EMAIL=1 \
        python manage.py collectstatic --noinput \
    && python -m compileall -q coworking spaces members bookings billing \
    && rm -rf /app/var/celery /app/var/cache \
    && mkdir -p /app/var/media \
    && chown -R app:app /app/var \
    && chmod 0755 /app/docker/entrypoint.sh

USER app

# Uploads. A named volume mounted here starts with this directory's ownership (app:app).
VOLUME ["/app/var/media"]
EXPOSE 8000

# /healthz checks the database and the broker; it is exempt from the HTTPS redirect.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/app/docker/entrypoint.sh", "healthcheck"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
# Gunicorn alone (no migrations); docker-compose.yml runs `web`, which migrates first. The number of
# workers comes from WEB_CONCURRENCY, which gunicorn reads itself.
CMD ["gunicorn", "coworking.wsgi:application", "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", "--worker-tmp-dir", "/dev/shm"]
