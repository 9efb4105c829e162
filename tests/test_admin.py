"""Admin pages for a staff user: every registered model's list, add and change pages render."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from billing import services as billing_services
from billing.models import Notice
from community import services as community_services
from members import services as member_services
from spaces.localtime import local_date
from tests.factories import (
    BookingFactory,
    ClosureFactory,
    ManagerAssignmentFactory,
    PlanFactory,
    ResourceFactory,
    SkillFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def one_of_each():
    resource = ResourceFactory()
    ClosureFactory(space=resource.space)
    ManagerAssignmentFactory(space=resource.space)
    SkillFactory(name="Photographie")
    Group.objects.create(name="Accountants")
    BookingFactory(resource=resource)
    buyer = UserFactory(member__display_name="Camille")
    space = resource.space
    pass_obj = billing_services.pass_purchase(
        member=buyer,
        plan=PlanFactory(space=space),
        start=local_date(timezone.now(), space.tz),
        now=timezone.now(),
    )
    Notice.objects.create(
        pass_obj=pass_obj, kind="payment_reminder", key="x", email=buyer.email, subject="Rappel", body="."
    )
    member_services.audit_record(actor=buyer, action="test", target=pass_obj, space_id=space.pk)
    post = community_services.post_create(
        author=buyer,
        kind="request",
        title="Cherche photographe",
        body=".",
        skill_names=["Photographie"],
        space=space,
        expires_on=local_date(timezone.now(), space.tz) + timedelta(days=7),
        today=local_date(timezone.now(), space.tz),
    )
    community_services.post_report(post=post, reporter=buyer, reason="Spam")
    start = timezone.now() + timedelta(days=3)
    event = community_services.event_create(
        by=UserFactory(is_staff=True, is_superuser=True),
        space=space,
        data={
            "title": "Barcamp",
            "start": start,
            "end": start + timedelta(hours=3),
            "accepts_proposals": True,
        },
        now=timezone.now(),
    )
    community_services.rsvp(event=event, user=buyer, now=timezone.now())
    event.accepts_proposals = True
    event.save()
    community_services.proposal_create(event=event, author=buyer, title="Un talk", summary="")


def registered():
    return [(model._meta.app_label, model._meta.model_name) for model in admin.site._registry]


@pytest.mark.parametrize(("app", "model"), registered())
def test_the_changelist_and_add_pages_render(admin_client, one_of_each, app, model):
    assert admin_client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:{app}_{model}_changelist") + "?q=a").status_code == 200
    model_admin = next(ma for m, ma in admin.site._registry.items() if m._meta.model_name == model)
    expected = 200 if model_admin.has_add_permission(admin_client.request().wsgi_request) else 403
    assert admin_client.get(reverse(f"admin:{app}_{model}_add")).status_code == expected


@pytest.mark.parametrize(("app", "model"), registered())
def test_the_change_page_renders(admin_client, one_of_each, app, model):
    instance = admin.site._registry[
        next(m for m in admin.site._registry if m._meta.model_name == model and m._meta.app_label == app)
    ].model.objects.first()
    assert admin_client.get(reverse(f"admin:{app}_{model}_change", args=[instance.pk])).status_code == 200


def test_the_space_page_edits_hours_and_resources_inline(admin_client, one_of_each):
    from spaces.models import Space

    space = Space.objects.first()
    html = admin_client.get(reverse("admin:spaces_space_change", args=[space.pk])).content.decode()
    assert "opening_hours-TOTAL_FORMS" in html
    assert "resources-TOTAL_FORMS" in html
    assert "closures-TOTAL_FORMS" in html


def test_adding_a_user_in_the_admin_creates_their_member_profile(admin_client):
    from members.models import Member, User

    response = admin_client.post(
        reverse("admin:members_user_add"),
        {
            "email": "new@example.com",
            "password1": "a-long-passw0rd-x",
            "password2": "a-long-passw0rd-x",
            "manager_assignments-TOTAL_FORMS": "0",
            "manager_assignments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Member.objects.filter(user=User.objects.get(email="new@example.com")).exists()
