"""Keeps the cache of spaces by slug (spaces.selectors.active_space_by_slug) true to the database."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from spaces.models import Space
from spaces.selectors import space_cache_key


def _remember_old_slug(sender, instance: Space, **kwargs) -> None:
    # A renamed slug must stop answering from the cache too; only the database knows the old one.
    if instance.pk is not None and not kwargs.get("raw"):
        instance._slug_before_save = (
            Space.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
        )


def _forget(sender, instance: Space, **kwargs) -> None:
    keys = {space_cache_key(instance.slug)}
    old_slug = getattr(instance, "_slug_before_save", None)
    if old_slug:
        keys.add(space_cache_key(old_slug))
    # Now (this request reads the database from here on) and after commit (a concurrent request may
    # have cached the version from before the commit in between).
    cache.delete_many(list(keys))
    transaction.on_commit(lambda: cache.delete_many(list(keys)))


def connect() -> None:
    pre_save.connect(_remember_old_slug, sender=Space, dispatch_uid="space-cache-old-slug")
    post_save.connect(_forget, sender=Space, dispatch_uid="space-cache-save")
    post_delete.connect(_forget, sender=Space, dispatch_uid="space-cache-delete")
