"""The embedded default cache: Django's file cache, made cheap enough for a booking's handful of reads.

A booking POST reads the session, the space, a few version tokens, and writes the availability version;
with Django's FileBasedCache those few operations cost a fifth of the request. The differences, each a
measured cost on that path:

- Culling lists the whole directory. Django does it on every write; here once every CULL_EVERY writes of a
  process (the first one included), with MAX_ENTRIES large enough that the entries written between two
  checks do not matter. Expired entries are still dropped when read.
- Values are pickled without zlib: the entries are small, and shared memory is not short of room.
- A write goes to a temporary file named after the process and thread (no random name to draw and create
  exclusively) and replaces the entry with one rename, so a reader sees the old value or the new one.
- Keys are made with make_key() only: Django's validation warns about keys memcached would refuse,
  which this cache accepts anyway, and walks every character of every key to do so.

Entries use their own suffix, so the files of Django's format are never read as this one.
"""

import contextlib
import os
import pickle
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache


class FileCache(FileBasedCache):
    CULL_EVERY = 1000
    cache_suffix = ".cwc"

    def __init__(self, dir, params):
        super().__init__(dir, params)
        self._writes = 0
        self._createdir()

    def make_and_validate_key(self, key, version=None):
        return self.make_key(key, version)

    def _cull(self):
        self._writes += 1
        if self._writes % self.CULL_EVERY == 1 or self.CULL_EVERY <= 1:
            super()._cull()

    def get(self, key, default=None, version=None):
        try:
            with open(self._key_to_file(key, version), "rb") as f:
                if not self._is_expired(f):
                    return pickle.loads(f.read())  # noqa: S301 - our own private directory (coworking.env)
        except FileNotFoundError:
            pass
        return default

    def _write_content(self, file, timeout, value):
        expiry = self.get_backend_timeout(timeout)
        file.write(pickle.dumps(expiry, self.pickle_protocol))
        file.write(pickle.dumps(value, self.pickle_protocol))

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        fname = self._key_to_file(key, version)
        self._cull()
        tmp_path = f"{fname}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            try:
                f = open(tmp_path, "wb")  # noqa: SIM115 - closed below, before the rename
            except FileNotFoundError:  # the directory was removed (clear() does not, a person might)
                self._createdir()
                f = open(tmp_path, "wb")  # noqa: SIM115
            with f:
                self._write_content(f, timeout, value)
            os.replace(tmp_path, fname)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_path)
            raise

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        value = self.get(key, self, version)
        if value is self:
            return False
        self.set(key, value, timeout, version)
        return True
