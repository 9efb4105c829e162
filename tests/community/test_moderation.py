"""Managers moderate in the admin: they hide (and show again) the posts of the spaces they run, with an
audit entry, and approve members' events; the posts of another space, or of the whole network, are not
theirs (the scoping matrix in tests/test_manager_scoping.py covers every admin page)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from community import services
from community.models import Event, EventStatus, Post
from members.models import AuditEntry
from tests.community.conftest import client_for
from tests.factories import ManagerFactory, SpaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lille(db):
    return SpaceFactory(name="La Ruche")


@pytest.fixture
def manager(lille):
    return ManagerFactory(spaces=[lille], member__display_name="Yanis")


def a_post(author, space):
    today = timezone.localdate()
    return services.post_create(
        author=author,
        kind="offer",
        title="Du spam",
        body=".",
        skill_names=[],
        space=space,
        expires_on=today + timedelta(days=3),
        today=today,
    )


def test_a_manager_hides_a_reported_post_of_their_space(lille, manager, camille, viewer, viewer_client):
    post = a_post(camille, lille)
    services.post_report(post=post, reporter=viewer, reason="Publicité")
    client = client_for(manager)
    changelist = client.get(reverse("admin:community_post_changelist"))
    assert changelist.status_code == 200
    assert "Du spam" in changelist.content.decode()
    response = client.post(
        reverse("admin:community_post_changelist"), {"action": "hide_posts", "_selected_action": [post.pk]}
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.hidden
    assert AuditEntry.objects.filter(action="community.post_hide", space=lille).count() == 1
    assert "Du spam" not in viewer_client.get("/community/board/").content.decode()


def test_a_manager_cannot_hide_a_post_of_another_space_or_of_the_network(lille, manager, camille):
    others = [a_post(camille, SpaceFactory()), a_post(camille, None)]
    client = client_for(manager)
    client.post(
        reverse("admin:community_post_changelist"),
        {"action": "hide_posts", "_selected_action": [post.pk for post in others]},
    )
    assert not Post.objects.filter(hidden=True).exists()
    for post in others:
        assert client.get(reverse("admin:community_post_change", args=[post.pk])).status_code in (
            302,
            403,
            404,
        )


def test_a_manager_approves_a_member_s_event_in_the_admin(lille, manager, camille):
    start = timezone.now() + timedelta(days=5)
    event = services.event_create(
        by=camille,
        space=lille,
        data={"title": "Déjeuner", "start": start, "end": start + timedelta(hours=2)},
        now=timezone.now(),
    )
    assert event.status == EventStatus.PENDING
    response = client_for(manager).post(
        reverse("admin:community_event_changelist"),
        {"action": "approve_events", "_selected_action": [event.pk]},
    )
    assert response.status_code == 302
    assert Event.objects.get(pk=event.pk).status == EventStatus.APPROVED
    assert AuditEntry.objects.filter(action="community.event_approve", space=lille).exists()
