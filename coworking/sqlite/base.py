"""Django's SQLite backend, with writers that queue closer to the lock than SQLite's busy handler lets them.

Every transaction.atomic() starts with BEGIN IMMEDIATE (settings: the check-then-write of a booking runs
under the database's write lock). When another process holds that lock, SQLite's busy handler sleeps 1,
then 2, 5, 10 ms... before trying again, although a booking holds the lock for well under a millisecond:
with two workers, the waiting came to a tenth of a booking's time, an idle core meanwhile. Here BEGIN
IMMEDIATE is retried every 50 µs for the first 5 ms, then with waits growing to 1 ms, until the same
timeout as the busy handler's. Statements outside atomic() keep the busy handler.
"""

import sqlite3
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# A booking holds the lock for a few tenths of a millisecond: poll every 50 us for the first 5 ms, then
# back off to 1 ms (a transaction that long is doing something else, such as a renewal job).
POLL, POLL_FOR, LONGEST_WAIT = 0.00005, 0.005, 0.001


def _locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        if self.transaction_mode != "IMMEDIATE":
            return super()._start_transaction_under_autocommit()
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        started = time.monotonic()
        deadline, wait = started + timeout, POLL
        raw = self.connection
        with self.wrap_database_errors:
            raw.execute("PRAGMA busy_timeout = 0")  # fail at once: this loop does the waiting
        try:
            try:
                self.cursor().execute("BEGIN IMMEDIATE")  # as Django does it: logged with the other queries
                return
            except OperationalError as exc:
                if not _locked(exc):
                    raise
            while True:
                time.sleep(wait)
                try:
                    with self.wrap_database_errors:
                        raw.execute("BEGIN IMMEDIATE")
                    return
                except OperationalError as exc:
                    if not _locked(exc) or time.monotonic() >= deadline:
                        raise
                if time.monotonic() - started > POLL_FOR:
                    wait = min(wait * 2, LONGEST_WAIT)
        finally:
            with self.wrap_database_errors:
                raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


__all__ = ["DatabaseWrapper", "sqlite3"]
