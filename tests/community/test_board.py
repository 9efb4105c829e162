"""Requests and offers: posting, answering through the site (the author's address stays private),
fulfilling and thanking, reporting, the weekly digest (once per member and week, one-click unsubscribe)."""

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from community import notifications, services
from community.models import CommunityEmail, CommunityProfile, Post, PostReport, PostStatus, Thanks
from tests.community.conftest import at, client_for, directory_member
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db

NOW = at(2026, 3, 10, 10, 0)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def a_post(author, *, title="Cherche photographe", skills=("Photographie",), space=None, **kwargs) -> Post:
    return services.post_create(
        author=author,
        kind=kwargs.pop("kind", "request"),
        title=title,
        body="Pour des portraits d'équipe.",
        skill_names=list(skills),
        space=space,
        expires_on=kwargs.pop("expires_on", TODAY + timedelta(days=30)),
        today=TODAY,
    )


def test_a_member_posts_a_request_from_the_form(camille):
    client = client_for(camille)
    space = SpaceFactory(name="La Ruche", slug="la-ruche")
    response = client.post(
        "/community/posts/new/",
        {
            "kind": "request",
            "title": "Cherche photographe",
            "body": "Pour des portraits.",
            "skills_text": "Photographie, Retouche",
            "space": space.slug,
            "expires_on": (TODAY + timedelta(days=14)).isoformat(),
        },
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert response["Location"] == post.get_absolute_url()
    assert sorted(skill.name for skill in post.skills.all()) == ["Photographie", "Retouche"]
    assert post.space == space
    assert "Cherche photographe" in client.get("/community/board/la-ruche/").content.decode()
    assert "Cherche photographe" in client.get("/community/board/").content.decode()


@pytest.mark.parametrize("expires_on", ["2026-03-01", "2027-03-01", "not a date"])
def test_a_bad_expiry_is_a_form_error(camille, expires_on):
    response = client_for(camille).post(
        "/community/posts/new/", {"kind": "offer", "title": "T", "body": "B", "expires_on": expires_on}
    )
    assert response.status_code == 200
    assert "expires_on" in response.context["form"].errors
    assert not Post.objects.exists()


def test_the_board_shows_neither_expired_nor_hidden_nor_fulfilled_posts(camille, viewer_client):
    a_post(camille, title="Visible")
    hidden = a_post(camille, title="Masqué")
    Post.objects.filter(pk=hidden.pk).update(hidden=True)
    expired = a_post(camille, title="Expiré")
    Post.objects.filter(pk=expired.pk).update(expires_on=TODAY - timedelta(days=1))
    done = a_post(camille, title="Terminé")
    Post.objects.filter(pk=done.pk).update(status=PostStatus.FULFILLED)
    page = viewer_client.get("/community/board/").content.decode()
    assert "Visible" in page
    for title in ("Masqué", "Expiré", "Terminé"):
        assert title not in page
    assert viewer_client.get(hidden.get_absolute_url()).status_code == 404


def test_the_board_filters_by_skill_ignoring_accents(camille, viewer_client):
    a_post(camille, title="Photo", skills=["Photographie"])
    a_post(camille, title="Contrat", skills=["Droit des contrats"])
    response = viewer_client.get("/community/board/", {"skill": "PHOTOGRAPHIE"})
    assert [post.title for post in response.context["posts"]] == ["Photo"]


def test_answering_mails_the_author_without_showing_their_address(
    camille, viewer, django_capture_on_commit_callbacks
):
    post = a_post(camille)
    client = client_for(viewer)
    page = client.get(post.get_absolute_url()).content.decode()
    assert "camille@example.com" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("community:post_message", args=[post.pk]), {"body": "Je suis photographe !"}
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["camille@example.com"]
    assert message.reply_to == ["viewer@example.com"]
    assert "Je suis photographe !" in message.body
    assert "camille@example.com" not in client.get(post.get_absolute_url()).content.decode()


def test_the_author_cannot_answer_their_own_post_and_an_empty_answer_is_refused(camille, viewer):
    post = a_post(camille)
    own = client_for(camille).post(reverse("community:post_message", args=[post.pk]), {"body": "Moi"})
    assert own.status_code == 400
    empty = client_for(viewer).post(reverse("community:post_message", args=[post.pk]), {"body": "   "})
    assert empty.status_code == 400
    assert not CommunityEmail.objects.exists()


def test_the_author_fulfils_and_thanks_who_helped_and_the_count_is_public(camille, viewer, viewer_client):
    post = a_post(camille)
    services.post_message(post=post, sender=viewer, body="Moi !")
    stranger = directory_member(name="Stranger")
    client = client_for(camille)
    assert client.get(post.get_absolute_url()).status_code == 200
    # Someone else cannot close it; thanks go only to members who answered.
    assert client_for(stranger).post(reverse("community:post_fulfil", args=[post.pk])).status_code == 404
    response = client.post(
        reverse("community:post_fulfil", args=[post.pk]), {"helpers": [str(viewer.pk), str(stranger.pk)]}
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PostStatus.FULFILLED
    assert list(Thanks.objects.values_list("helper_id", flat=True)) == [viewer.pk]
    profile = viewer_client.get(reverse("community:member", args=[viewer.member.pk]))
    assert "Thanked 1 time" in profile.content.decode()


def test_a_member_reports_a_post_once(camille, viewer):
    post = a_post(camille)
    client = client_for(viewer)
    for _ in range(2):
        assert (
            client.post(reverse("community:post_report", args=[post.pk]), {"reason": "Spam"}).status_code
            == 302
        )
    assert PostReport.objects.filter(post=post).count() == 1
    assert client.post(reverse("community:post_report", args=[post.pk]), {"reason": ""}).status_code == 400


# --- the weekly digest --------------------------------------------------------------------------------


def digests() -> list:
    return [message for message in mail.outbox if "List-Unsubscribe" in message.extra_headers]


def test_the_weekly_digest_goes_once_to_members_with_matching_skills(
    camille, django_capture_on_commit_callbacks
):
    photographer = directory_member(name="Paul", skills=["Photographie"], email="paul@example.com")
    directory_member(name="Zoé", skills=["Comptabilité"], email="zoe@example.com")
    a_post(camille, title="Cherche photographe", skills=["photographie"])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digests_record(now=NOW) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.digests_record(now=NOW + timedelta(hours=3))  # a second run in the same week
    assert [message.to for message in digests()] == [["paul@example.com"]]
    message = digests()[0]
    assert "Cherche photographe" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert CommunityEmail.objects.get().key == f"digest:{photographer.pk}:2026-W11"


def test_the_digest_skips_the_author_and_the_members_who_unsubscribed(
    client, camille, django_capture_on_commit_callbacks
):
    paul = directory_member(name="Paul", skills=["Photographie"], email="paul@example.com")
    a_post(camille, skills=["Photographie", "UX design"])
    url = notifications.unsubscribe_url(user_id=paul.pk, what="digest")
    # Following the link (a mail scanner does too) only asks; the page's button, or the mail client's
    # RFC 8058 one-click POST, unsubscribes, without signing in.
    page = client.get(urlsplit(url).path)
    assert page.status_code == 200
    assert '<form method="post">' in page.content.decode()
    assert not CommunityProfile.objects.filter(user=paul, digest_enabled=False).exists()
    assert client.post(urlsplit(url).path).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digests_record(now=NOW) == 0
    assert digests() == []


def test_the_digest_respects_the_spaces_a_member_uses(camille, django_capture_on_commit_callbacks):
    lille, paris = SpaceFactory(), SpaceFactory()
    paul = directory_member(name="Paul", skills=["Photographie"])
    services.community_profile_update(user=paul, data={}, spaces=[lille])
    a_post(camille, title="À Paris", space=paris)
    assert services.digests_record(now=NOW) == 0
    a_post(camille, title="À Lille", space=lille)
    assert services.digests_record(now=NOW) == 1
    assert "À Paris" not in CommunityEmail.objects.get().body


def test_last_week_s_posts_are_not_in_this_week_s_digest(camille):
    directory_member(name="Paul", skills=["Photographie"])
    post = a_post(camille)
    Post.objects.filter(pk=post.pk).update(created_at=NOW - timedelta(days=8))
    assert services.digests_record(now=NOW) == 0


def test_a_post_lasts_at_most_90_days():
    with pytest.raises(services.CommunityError):
        services._check_expiry(date(2026, 9, 1), TODAY)
