"""The embedded default cache: Django's file cache, culled now and then instead of on every write.

Django's FileBasedCache lists its whole directory on every set() to decide whether to cull. With the
few hundred entries a space's pages, sessions and version tokens keep, that listing is most of the cost
of a write, and a booking writes on every request (the availability version, the session). Here the
check runs once every CULL_EVERY writes of a process, with MAX_ENTRIES large enough that the entries
written between two checks cannot matter; expired entries are still dropped when read, as before.
"""

from django.core.cache.backends.filebased import FileBasedCache


class FileCache(FileBasedCache):
    CULL_EVERY = 100

    def __init__(self, dir, params):
        super().__init__(dir, params)
        self._writes = 0

    def _cull(self):
        self._writes += 1
        if self._writes % self.CULL_EVERY == 1 or self.CULL_EVERY <= 1:
            super()._cull()
