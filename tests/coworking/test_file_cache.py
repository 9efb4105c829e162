"""The embedded cache: a private directory in shared memory, and Django's file cache culled now and then."""

import math
import os
import stat
import struct

import pytest

from coworking.cache import FileCache
from coworking.env import private_scratch_dir

SHM = "/dev/shm"  # noqa: S108 - what is under test
posix_only = pytest.mark.skipif(os.name != "posix" or not os.path.isdir(SHM), reason="needs /dev/shm")


@posix_only
def test_the_scratch_dir_is_private_and_stable(tmp_path):
    first = private_scratch_dir(tmp_path, "cache")
    assert first == private_scratch_dir(tmp_path, "cache")
    assert str(first).startswith(f"{SHM}/coworking-{os.getuid()}-")
    info = os.lstat(first.parent)
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()
    os.rmdir(first.parent)


@posix_only
def test_each_var_dir_has_its_own(tmp_path):
    one = private_scratch_dir(tmp_path / "a", "cache")
    two = private_scratch_dir(tmp_path / "b", "cache")
    assert one != two
    os.rmdir(one.parent)
    os.rmdir(two.parent)


@posix_only
def test_a_directory_others_can_write_is_refused(tmp_path):
    path = private_scratch_dir(tmp_path, "cache").parent
    os.chmod(path, 0o777)  # noqa: S103 - the unsafe case under test
    try:
        assert private_scratch_dir(tmp_path, "cache") == tmp_path / "cache"
    finally:
        os.rmdir(path)


@posix_only
def test_a_symlink_planted_in_its_place_is_refused(tmp_path):
    path = private_scratch_dir(tmp_path, "cache").parent
    os.rmdir(path)
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    os.symlink(target, path)
    try:
        assert private_scratch_dir(tmp_path, "cache") == tmp_path / "cache"
    finally:
        os.unlink(path)


def test_the_cache_culls_once_every_cull_every_writes(tmp_path, monkeypatch):
    cache = FileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2}})
    listings = []
    original = FileCache._list_cache_files
    monkeypatch.setattr(FileCache, "_list_cache_files", lambda self: listings.append(1) or original(self))
    for i in range(FileCache.CULL_EVERY + 1):
        cache.set(f"k{i}", i)
    assert len(listings) == 2  # the first write, and the one CULL_EVERY writes later
    # That second check found more than MAX_ENTRIES entries and removed some.
    assert len(os.listdir(tmp_path)) < FileCache.CULL_EVERY + 1
    assert cache.get(f"k{FileCache.CULL_EVERY}") == FileCache.CULL_EVERY


def test_entries_round_trip_expire_and_are_replaced_whole(tmp_path):
    cache = FileCache(str(tmp_path), {})
    cache.set("space", {"name": "Canal", "desks": list(range(300))}, 60)
    assert cache.get("space") == {"name": "Canal", "desks": list(range(300))}
    assert cache.add("space", "other") is False
    assert cache.add("token", "abc", 60) is True
    assert cache.get("token") == "abc"
    cache.set("gone", 1, -1)  # already expired: read as missing, and its file removed
    assert cache.get("gone", "missing") == "missing"
    assert cache.touch("token", 120) is True
    assert cache.touch("never-set") is False
    cache.set("space", "replaced")
    assert cache.get("space") == "replaced"
    # Only entries in the directory: no temporary file is left behind by a write.
    assert all(name.endswith(FileCache.cache_suffix) for name in os.listdir(tmp_path))
    cache.clear()
    assert cache.get("token") is None
    assert os.listdir(tmp_path) == []


def test_a_write_that_fails_leaves_the_old_entry_and_no_temporary_file(tmp_path):
    cache = FileCache(str(tmp_path), {})
    cache.set("k", "old")

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    with pytest.raises(TypeError):
        cache.set("k", Unpicklable())
    assert cache.get("k") == "old"
    assert len(os.listdir(tmp_path)) == 1


def test_a_removed_directory_is_created_again_on_the_next_write(tmp_path):
    directory = tmp_path / "cache"
    cache = FileCache(str(directory), {})
    os.rmdir(directory)
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_a_file_it_cannot_read_is_a_miss_and_is_removed(tmp_path):
    cache = FileCache(str(tmp_path), {})
    cache.set("k", "v")
    [name] = os.listdir(tmp_path)
    (tmp_path / name).write_bytes(struct.pack("<d", math.inf) + b"not a pickle")
    assert cache.get("k", "missing") == "missing"
    assert os.listdir(tmp_path) == []
    cache.set("k", "v")
    (tmp_path / name).write_bytes(b"\x01")  # shorter than the header
    assert cache.has_key("k") is False


def test_entries_are_readable_by_this_user_only(tmp_path):
    cache = FileCache(str(tmp_path), {})
    cache.set("k", "v")
    [name] = os.listdir(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
