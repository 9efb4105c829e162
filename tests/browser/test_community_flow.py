"""Camille meets the community in a real Chromium (journey 8): she opts in to the directory, finds a
developer by skill (typed without the accent), posts a request for a photographer and registers for the
next barcamp."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from community import services
from community.models import Event, EventStatus, Post, Rsvp, RsvpStatus
from members import services as member_services
from tests.factories import SpaceFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            },
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url},
        ]
    )


def test_camille_opts_in_finds_a_developer_posts_a_request_and_registers_for_a_barcamp(page, live_server):
    now = timezone.now()
    space = SpaceFactory(name="La Ruche", slug="la-ruche")
    camille = UserFactory(email="camille@example.com")
    member_services.member_update_profile(
        member=camille.member,
        data={"display_name": "Camille", "profession": "UX designer"},
        skills=["UX design"],
        now=now,
    )
    ines = UserFactory(email="ines@example.com")
    member_services.member_update_profile(
        member=ines.member,
        data={"display_name": "Inès", "profession": "Développeuse", "directory_opt_in": True},
        skills=["Développeur"],
        now=now,
    )
    start = now + timedelta(days=10)
    barcamp = services.event_create(
        by=UserFactory(is_superuser=True, is_staff=True),
        space=space,
        data={
            "title": "Barcamp de printemps",
            "kind": "barcamp",
            "start": start,
            "end": start + timedelta(hours=8),
            "capacity": 30,
            "accepts_proposals": True,
        },
        now=now,
    )
    assert barcamp.status == EventStatus.APPROVED
    sign_in(page, live_server, camille)

    # 1. Opt in to the directory.
    page.goto("/community/settings/")
    page.get_by_label("Show me in the member directory").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Your community settings have been saved.")).to_be_visible()
    camille.member.refresh_from_db()
    assert camille.member.directory_opt_in

    # 2. Find a developer by skill, typed without the accent.
    page.get_by_role("link", name="Directory").click()
    expect(page.get_by_role("heading", name="Camille")).to_be_visible()
    page.get_by_label("Skill", exact=True).fill("developpeur")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 member", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Inès")).to_be_visible()
    expect(page.get_by_role("heading", name="Camille")).to_have_count(0)
    expect(page.get_by_text("ines@example.com")).to_have_count(0)

    # 3. Post a request for a photographer.
    page.get_by_role("link", name="Board").click()
    page.get_by_role("link", name="Post a request or an offer").click()
    page.get_by_label("Title").fill("Looking for a photographer")
    page.get_by_label("Description").fill("Team portraits for our new website.")
    page.get_by_label("Skills", exact=True).fill("Photographie")
    page.get_by_label("Space").select_option(label="La Ruche")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Your post is on the board.")).to_be_visible()
    expect(page.get_by_role("heading", name="Looking for a photographer")).to_be_visible()
    post = Post.objects.get()
    assert (post.author, post.space) == (camille, space)

    # 4. Register for the barcamp.
    page.get_by_role("link", name="Events").first.click()
    page.get_by_role("link", name="Barcamp de printemps").click()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("You are registered. See you there!")).to_be_visible()
    assert Rsvp.objects.get(event=barcamp, user=camille).status == RsvpStatus.GOING
    assert Event.objects.get().pk == barcamp.pk
