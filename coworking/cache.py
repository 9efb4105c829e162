"""The embedded default cache: Django's file cache, made cheap enough for a booking's handful of reads.

A booking POST reads the session, the space, a few version tokens, and writes the availability version;
with Django's FileBasedCache those few operations cost a fifth of the request. The differences, each a
measured cost on that path:

- Culling lists the whole directory. Django does it on every write; here once every CULL_EVERY writes of a
  process (the first one included), with MAX_ENTRIES large enough that the entries written between two
  checks do not matter. Expired entries are still dropped when read.
- An entry is its expiry (8 bytes) and the pickled value, without zlib, read with one unbuffered read:
  the entries are small, and shared memory is not short of room.
- A write goes to a temporary file named after the process and thread (no random name to draw and create
  exclusively) and replaces the entry with one rename, so a reader sees the old value or the new one.
- Keys are made with make_key() only: Django's validation warns about keys memcached would refuse,
  which this cache accepts anyway, and walks every character of every key to do so.

Entries use their own suffix, so the files of Django's format are never read as this one.
"""

import contextlib
import math
import os
import pickle
import struct
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache

HEADER = struct.Struct("<d")  # the expiry, a Unix time (infinity: never)
FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


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
        fname = self._key_to_file(key, version)
        try:
            with open(fname, "rb", buffering=0) as f:
                data = f.read()
        except FileNotFoundError:
            return default
        if self._expired(fname, data):
            return default
        try:
            return pickle.loads(memoryview(data)[HEADER.size :])  # noqa: S301 - our own private directory
        except Exception:  # not an entry this code wrote (a torn copy, another release's format): a miss
            with contextlib.suppress(FileNotFoundError):
                os.remove(fname)
            return default

    def has_key(self, key, version=None):
        fname = self._key_to_file(key, version)
        try:
            with open(fname, "rb", buffering=0) as f:
                header = f.read(HEADER.size)
        except FileNotFoundError:
            return False
        return not self._expired(fname, header)

    def _expired(self, fname: str, data: bytes) -> bool:
        if len(data) >= HEADER.size and HEADER.unpack_from(data)[0] >= time.time():
            return False
        with contextlib.suppress(FileNotFoundError):
            os.remove(fname)
        return True

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        fname = self._key_to_file(key, version)
        self._cull()
        expiry = self.get_backend_timeout(timeout)
        data = HEADER.pack(math.inf if expiry is None else expiry) + pickle.dumps(value, self.pickle_protocol)
        tmp_path = f"{fname}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            try:
                fd = os.open(tmp_path, FLAGS, 0o600)  # readable by this user only, as the directory
            except FileNotFoundError:  # the directory was removed (clear() does not, a person might)
                self._createdir()
                fd = os.open(tmp_path, FLAGS, 0o600)
            with open(fd, "wb", buffering=0) as f:
                f.write(data)
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
