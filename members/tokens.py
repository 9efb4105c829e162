"""Personal API tokens: created, revoked and checked here, for the API, the account page and the command.

A token is `cw_` followed by 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a
leaked database does not leak usable tokens, and a plain hash is enough for a secret of that entropy
(no salt or slow hash needed, unlike passwords). The first characters are kept to recognise it.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from members.models import ApiToken, User

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cw_"  # noqa: S105 (public: it tells a token from other strings)
PREFIX_LENGTH = 12  # ApiToken.prefix's max_length: "cw_" and 9 random characters
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Longer than any token we issue: anything longer is refused before hashing.
MAX_TOKEN_LENGTH = 100


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the model and the raw token, which is never stored and shown only once."""
    name = " ".join(name.split())[: ApiToken._meta.get_field("name").max_length]
    if not name or "\x00" in name:
        raise ValueError("an API token needs a name, without NUL characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:PREFIX_LENGTH], digest=_digest(raw))
    logger.info("api token created", extra={"user_id": user.pk, "token_id": token.pk})
    return token, raw


def token_revoke(*, token: ApiToken, user: User, now: datetime | None = None) -> ApiToken:
    """Revoke one of `user`'s tokens for good. Revoking a revoked token changes nothing."""
    if token.user_id != user.pk:
        raise ApiToken.DoesNotExist("this token belongs to another user")
    now = now or timezone.now()
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        logger.info("api token revoked", extra={"user_id": user.pk, "token_id": token.pk})
    token.refresh_from_db(fields=["revoked_at"])
    return token


def token_authenticate(raw: str | None) -> User | None:
    """The active user a raw token belongs to, or None (unknown, revoked, or the user is inactive)."""
    if not raw or not isinstance(raw, str) or not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user").filter(digest=_digest(raw), revoked_at__isnull=True).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per token, and a conditional one: concurrent requests do not pile up.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return token.user
