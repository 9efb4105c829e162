from io import StringIO

from django.core.management import call_command
from django.test import override_settings

from members.models import ManagerAssignment, Member, User
from spaces.models import Closure, OpeningHours, Resource, ResourceKind, Space, Zone

MODELS = [Space, Zone, Resource, OpeningHours, Closure, User, Member, ManagerAssignment]


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


@override_settings(DEMO_PASSWORDS=True)
def test_seed_demo_is_idempotent(db):
    call_command("seed_demo", stdout=StringIO())
    first = counts()
    Space.objects.filter(slug="paris-canal").update(name="Renamed by hand")
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first
    assert Space.objects.get(slug="paris-canal").name == "Canal Saint-Martin Coworking"


@override_settings(DEMO_PASSWORDS=True)
def test_seed_demo_builds_four_spaces_in_france_and_belgium(db, capsys):
    call_command("seed_demo")
    spaces = {space.city: space for space in Space.objects.all()}
    assert set(spaces) == {"Lille", "Paris", "Montpellier", "Bruxelles"}
    assert spaces["Bruxelles"].time_zone == "Europe/Brussels"
    assert str(spaces["Bruxelles"].vat_rate) == "21.00"
    assert spaces["Paris"].time_zone == "Europe/Paris"
    assert str(spaces["Paris"].vat_rate) == "20.00"
    for space in spaces.values():
        hot_desks = Resource.objects.filter(space=space, kind=ResourceKind.HOT_DESK)
        assert hot_desks.count() >= 20
        assert hot_desks.values("zone").distinct().count() == 2
        assert Resource.objects.filter(space=space, kind=ResourceKind.DEDICATED_DESK).exists()
        assert Resource.objects.filter(space=space, kind=ResourceKind.MEETING_ROOM).count() == 2
        assert Resource.objects.filter(space=space, kind=ResourceKind.PRIVATE_OFFICE).count() == 1
        assert ManagerAssignment.objects.filter(space=space).count() == 1
    assert User.objects.filter(is_superuser=True).count() == 1
    output = capsys.readouterr().out
    assert "member-lille@example.com" in output
    assert "Password for every demo account: coworking-demo" in output
    assert User.objects.get(email="member-lille@example.com").check_password("coworking-demo")


@override_settings(DEMO_PASSWORDS=False)
def test_seed_demo_sets_no_password_when_debug_is_off(db, capsys):
    call_command("seed_demo")
    assert not any(user.has_usable_password() for user in User.objects.all())
    assert "coworking-demo" not in capsys.readouterr().out


@override_settings(DEMO_PASSWORDS=True)
def test_demo_managers_run_only_their_space(db):
    call_command("seed_demo", stdout=StringIO())
    manager = User.objects.get(email="manager-paris@example.com")
    assert manager.is_staff
    assert not manager.is_superuser
    assert list(manager.manager_assignments.values_list("space__city", flat=True)) == ["Paris"]


@override_settings(DEMO_PASSWORDS=False)
def test_demo_passes_come_due_so_that_make_run_shows_renewals(db):
    from django.utils import timezone

    from billing.models import Pass, Plan
    from billing.services import renew_due_passes

    call_command("seed_demo", stdout=StringIO())
    assert Plan.objects.filter(space__slug="paris-canal", is_active=True).count() == 5
    # The demo members' passes, plus the monthly passes of the two community members who are in Lille
    # today (they start today, so they do not come due).
    assert Pass.objects.filter(member__email__startswith="member-").count() == 5
    assert Pass.objects.count() == 7
    report = renew_due_passes(now=timezone.now())
    assert report.renewed == 4
    from billing import dunning

    dunned = dunning.run(timezone.now())
    assert dunned.past_due == 1
    call_command("seed_demo", stdout=StringIO())
    assert Pass.objects.count() == 7


@override_settings(DEMO_PASSWORDS=False)
def test_seed_demo_fills_the_community_idempotently(db):
    from community.models import Event, Post, ProposalVote, Rsvp, TalkProposal
    from community.selectors import directory_search

    call_command("seed_demo", stdout=StringIO())
    models = [Post, Event, Rsvp, TalkProposal, ProposalVote]
    first = {model.__name__: model.objects.count() for model in models}
    call_command("seed_demo", stdout=StringIO())
    assert {model.__name__: model.objects.count() for model in models} == first
    assert [card.name for card in directory_search(skill="developpeur").cards] == ["Inès Haddad"]
    assert Event.objects.filter(kind="jelly", no_pass_needed=True).exists()
    assert TalkProposal.objects.filter(event__kind="barcamp").count() == 2
    assert first["Post"] == 3
