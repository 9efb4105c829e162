"""Whole-page cache for pages that are the same for everyone but a few per-request details.

A cached page is rendered once with placeholders where the request's own details go, and every hit
puts them back in, which costs far less than rendering a 300-desk grid:
- the CSRF token (each `{% csrf_token %}` of the render becomes one placeholder; a hit writes the
  requester's own token there, and `get_token()` makes sure the CSRF cookie is set as usual);
- the flash messages (base.html writes a marker instead of them while `page_cache` is in the context,
  so that rendering for the cache never consumes somebody's messages).
What depends on who is asking (signed in or not, staff or not, the language, the path) belongs in the
key given by the caller; what depends on the state of the data belongs in a version token in the key.

Two levels: the shared cache (Redis in production) so that every process benefits from one render, and
a small per-process LRU in front of it that keeps pages already split at their placeholders, so that a
hit neither decompresses nor unpickles 100+ KB. Keys carry the version token, so an entry of either
level can never be served after the data it shows has changed: it is only never asked for again.
"""

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

CSRF_PLACEHOLDER = "__page_cache_csrf_token__"
MESSAGES_MARKER = "<!--page-cache:messages-->"
_CSRF_INPUT_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_SPLIT = re.compile(f"({re.escape(CSRF_PLACEHOLDER)}|{re.escape(MESSAGES_MARKER)})")

# UTF-8 text, placeholder, text, placeholder, ..., text: bytes, because encoding 100+ KB of French text
# on every hit would cost more than all the rest of it.
Parts = tuple[bytes, ...]


class LocalLRU:
    """Entries live until evicted, or until `expires` (a Unix time) for those given one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[float | None, Parts]] = OrderedDict()
        self._lock = threading.Lock()  # runserver and threaded workers share one process

    def get(self, key: str, now: float | None = None) -> Parts | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, parts = entry
            if expires is not None and (now if now is not None else time.time()) >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return parts

    def put(self, key: str, parts: Parts, expires: float | None = None) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = (expires, parts)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# A few MB per process at most (pages of a 300-desk space are about 130 KB); 0 turns this level off.
local_pages = LocalLRU(getattr(settings, "PAGE_CACHE_LOCAL_ENTRIES", 64))


def render_cacheable(request, template: str, context: dict) -> str:
    """The page as anybody with this key would see it, with placeholders for the per-request parts."""
    html = render_to_string(template, {**context, "page_cache": True}, request=request)
    return _CSRF_INPUT_VALUE.sub(rf"\g<1>{CSRF_PLACEHOLDER}\g<2>", html)


def split(html: str) -> Parts:
    return tuple(part.encode() for part in _SPLIT.split(html))


_CSRF = CSRF_PLACEHOLDER.encode()


def personalise(request, parts: Parts, messages_template: str = "_messages.html") -> bytes:
    """The page of render_cacheable() (split), UTF-8, with this request's CSRF token and messages
    (rendered with messages_template: the admin writes them its own way)."""
    filled = list(parts)
    token = None
    for index in range(1, len(filled), 2):
        if filled[index] == _CSRF:
            # One masked token for every form of the page (each mask costs 32 random draws).
            token = token or get_token(request).encode()
            filled[index] = token
        else:
            storage = get_messages(request)
            filled[index] = (
                render_to_string(messages_template, {"messages": storage}).encode() if storage else b""
            )
    return b"".join(filled)


def get_or_render(request, key: str, timeout: int, render: Callable[[], str]) -> bytes:
    """The personalised page under key: from this process, from the shared cache, or rendered (by
    render(), which returns what render_cacheable() does) and stored in both for `timeout` seconds."""
    now = time.time()
    return get_or_render_until(request, key, now, lambda: (render(), now + timeout))


def get_or_render_until(
    request,
    key: str,
    now: float,
    render: Callable[[], tuple[str, float]],
    messages_template: str = "_messages.html",
) -> bytes:
    """The same for a page whose key need not change when it expires (one that shows figures computed
    at some time, say): render() returns the page and the Unix time until which it may be served, kept
    with it in the shared cache and in this process, so that neither copy outlives it."""
    parts = local_pages.get(key, now)
    if parts is None:
        cached = cache.get(key)
        if cached is None or cached[1] <= now:
            cached = render()
            if cached[1] > now:
                cache.set(key, cached, max(1, int(cached[1] - now)))
        html, expires = cached
        parts = split(html)
        if expires > now:
            local_pages.put(key, parts, expires)
    return personalise(request, parts, messages_template)


def cached_text(key: str, timeout: int, render: Callable[[], str]) -> str:
    """A rendered fragment (a page shell with its placeholders, say) from this process or the shared
    cache, else rendered and stored in both."""
    parts = local_pages.get(key)
    if parts is not None:
        return parts[0].decode()
    text = cache.get(key)
    if text is None:
        text = render()
        cache.set(key, text, timeout)
    local_pages.put(key, (text.encode(),))
    return text
