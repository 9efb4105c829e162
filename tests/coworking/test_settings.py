"""Settings are read from the environment at import: each case runs in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "options": {k: str(v) for k, v in db.get("OPTIONS", {}).items()},
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "secret": settings.SECRET_KEY,
    "verification": settings.ACCOUNT_EMAIL_VERIFICATION,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
}))
"""
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "tests-0Zq8-kV3r-Lw9p-Xc2m-Nb7t-Hy5u-Jd4e-Fg6s-Qa1w-Ertz",
    "ALLOWED_HOSTS": "example.org",
    "EMAIL_HOST": "smtp.example.org",
}


def load_settings(tmp_path, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DATABASE_URL",
                "REDIS_URL",
                "CELERY_",
                "SECRET_KEY",
                "DEBUG",
                "ALLOWED_HOSTS",
                "EMAIL_",
                "ALLOW_CONSOLE",
                "SECURE_",
            )
        )
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "coworking.settings", "VAR_DIR": str(tmp_path)}, **env)
    return subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(tmp_path, **env) -> dict:
    result = load_settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_database_url_it_uses_sqlite_with_wal_and_immediate_transactions(tmp_path):
    found = settings_of(tmp_path, DEBUG="1")
    assert found["engine"] == "coworking.sqlite"  # Django's, with a finer wait for the write lock
    assert found["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in found["options"]["init_command"]
    assert int(found["options"]["timeout"]) >= 5


def test_database_url_selects_postgresql(tmp_path):
    found = settings_of(tmp_path, DEBUG="1", DATABASE_URL="postgres://postgres@127.0.0.1:5432/coworking")
    assert found["engine"] == "django.db.backends.postgresql"


def test_without_redis_it_uses_the_filesystem_broker_and_a_file_cache(tmp_path):
    found = settings_of(tmp_path, DEBUG="1")
    assert found["broker"].startswith("filesystem://")
    assert found["cache"] == "coworking.cache.FileCache"
    assert (tmp_path / "celery" / "queue").is_dir()


def test_redis_url_selects_the_redis_broker_and_cache(tmp_path):
    found = settings_of(tmp_path, DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/3")
    assert found["broker"] == "redis://127.0.0.1:6379/3"
    assert found["cache"].endswith("RedisCache")


def test_debug_is_off_unless_asked_for(tmp_path):
    found = settings_of(tmp_path, **PRODUCTION)
    assert found["debug"] is False
    assert found["verification"] == "mandatory"
    assert found["ssl_redirect"] is True
    assert found["hsts"] >= 31_536_000


def test_it_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off(tmp_path):
    env = {**PRODUCTION, "ALLOWED_HOSTS": ""}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_it_refuses_to_start_without_an_email_server_when_debug_is_off(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_HOST"}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "No e-mail server is configured" in result.stderr


def test_a_secret_may_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-" + "x" * 40 + "\n")
    env = {**PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret_file)}
    assert settings_of(tmp_path, **env)["secret"] == "from-a-file-" + "x" * 40


def test_a_malformed_boolean_is_a_clear_error(tmp_path):
    result = load_settings(tmp_path, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize("url", ["mysql://root@localhost/db", "not-a-url"])
def test_an_unsupported_database_url_is_refused(tmp_path, url):
    result = load_settings(tmp_path, DEBUG="1", DATABASE_URL=url)
    assert result.returncode != 0


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DATABASE_URL", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(PRODUCTION, DJANGO_SETTINGS_MODULE="coworking.settings", VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
