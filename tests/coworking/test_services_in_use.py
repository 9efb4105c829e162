"""When CI points the suite at PostgreSQL and Redis, prove that they are what the suite really used."""

import os
import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from coworking.health import check_broker

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.mark.skipif(not ON_POSTGRES, reason="DATABASE_URL is not a PostgreSQL URL")
def test_the_suite_runs_on_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL unset")
def test_redis_is_the_broker_and_serves_as_a_cache():
    broker = check_broker()
    assert broker["ok"] is True
    assert broker["transport"] == "redis"
    cache = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"tests-{uuid.uuid4().hex}"})
    cache.set("greeting", "bonjour", timeout=30)
    assert cache.get("greeting") == "bonjour"
    cache.delete("greeting")


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="DATABASE_URL set")
def test_the_embedded_default_is_sqlite(db):
    assert connection.vendor == "sqlite"
    assert caches["default"] is not None
