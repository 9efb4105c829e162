from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from members import services as member_services
from members.models import User
from tests.factories import SkillFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")


def directory_member(
    *, name: str, profession: str = "", skills=(), email: str | None = None, opt_in: bool = True, **fields
) -> User:
    """A member with a profile, in the directory (through the same service the profile page uses)."""
    user = UserFactory(**({"email": email} if email else {}))
    member_services.member_update_profile(
        member=user.member,
        data={"display_name": name, "profession": profession, "directory_opt_in": opt_in, **fields},
        skills=list(skills),
        now=timezone.now(),
    )
    return user


def client_for(user, language: str = "en") -> Client:
    client = Client()
    client.cookies["django_language"] = language
    client.force_login(user)
    return client


@pytest.fixture
def camille(db):
    return directory_member(
        name="Camille",
        profession="UX designer",
        skills=["UX design", "Développeur"],
        email="camille@example.com",
    )


@pytest.fixture
def viewer(db):
    return directory_member(
        name="Yanis Viewer", profession="Avocat", skills=["Droit"], email="viewer@example.com"
    )


@pytest.fixture
def viewer_client(viewer):
    return client_for(viewer)


@pytest.fixture
def skills(db):
    return [SkillFactory(name=name) for name in ("Photographie", "Droit des contrats")]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)
