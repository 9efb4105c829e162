"""Typed readers for the environment: every setting comes from here, so there is one place that knows
how a boolean is spelt and where a secret may come from."""

import hashlib
import os
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """A string; NAME_FILE (a path, as Docker and Kubernetes secrets provide) wins over NAME."""
    path = os.environ.get(name + "_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to {path!r}, which cannot be read: {exc}"
            ) from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def private_scratch_dir(var_dir: Path, name: str) -> Path:
    """A directory for disposable files (the embedded cache): in shared memory when the machine has it,
    where writing a small file costs a tenth of what it costs on disk, else under var_dir. Its contents
    may vanish at any time (a reboot empties /dev/shm).

    The directory must be this user's alone, since the file cache unpickles what it reads: it is
    created with mode 0700, and one that exists but is a symlink, someone else's or open to others is
    refused in favour of var_dir."""
    fallback = var_dir / name
    shm = Path("/dev/shm")  # noqa: S108 - a directory of our own in it, checked below
    if os.name != "posix" or not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        return fallback
    digest = hashlib.sha256(str(var_dir.resolve()).encode()).hexdigest()[:16]
    path = shm / f"coworking-{os.getuid()}-{digest}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return fallback
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return fallback
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return fallback
    return path / name
