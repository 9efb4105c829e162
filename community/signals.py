"""Skill alerts are summarised in the cache for the booking path (selectors.alert_skill_ids): any change to
them makes the summary be read afresh, after commit."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from community.models import SkillAlert
from community.selectors import bump_alert_skills


def _alerts_changed(sender, instance, **kwargs) -> None:
    transaction.on_commit(bump_alert_skills)


def connect() -> None:
    post_save.connect(_alerts_changed, sender=SkillAlert, dispatch_uid="community-alert-skills-save")
    post_delete.connect(_alerts_changed, sender=SkillAlert, dispatch_uid="community-alert-skills-delete")
