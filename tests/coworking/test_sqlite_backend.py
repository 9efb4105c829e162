"""coworking.sqlite: BEGIN IMMEDIATE waits for another writer in short steps, no longer than the timeout."""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from spaces.models import Space
from tests.factories import SpaceFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock"),
]


def hold_the_write_lock(seconds: float, holding: threading.Event) -> threading.Thread:
    def body():
        try:
            with transaction.atomic():
                Space.objects.update(name="Tenue")
                holding.set()
                time.sleep(seconds)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body)
    thread.start()
    assert holding.wait(5)
    return thread


def busy_timeout() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def test_a_second_writer_gets_the_lock_soon_after_it_is_released():
    SpaceFactory()
    before = busy_timeout()
    holder = hold_the_write_lock(0.2, threading.Event())
    started = time.monotonic()
    with transaction.atomic():
        waited = time.monotonic() - started
        Space.objects.update(name="Après")
    holder.join()
    assert 0.1 < waited < 1.0
    assert Space.objects.get().name == "Après"
    assert busy_timeout() == before  # the statements outside atomic() keep SQLite's own wait


def test_a_writer_that_never_gets_the_lock_fails_after_the_timeout(monkeypatch):
    SpaceFactory()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    holder = hold_the_write_lock(1.0, threading.Event())
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), transaction.atomic():
        Space.objects.update(name="Jamais")
    assert 0.15 < time.monotonic() - started < 0.9
    holder.join()
    assert Space.objects.get().name == "Tenue"
