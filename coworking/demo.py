"""The demo network loaded by `manage.py seed_demo` (and so by `make run`). Idempotent: every row is
found by a natural key and brought back to the state below, so running it twice changes nothing."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from billing import periods
from billing import services as billing_services
from billing.models import Pass, Plan, PlanKind, PriceTier
from members import services as member_services
from members.models import Member, User, skill_key
from spaces.models import Closure, OpeningHours, Resource, ResourceKind, Space, Zone

DEMO_PASSWORD = "coworking-demo"  # noqa: S105 - set only when DEBUG is on, printed by the command
WEEKDAYS = range(5)


@dataclass(frozen=True)
class DemoSpace:
    slug: str
    name: str
    city: str
    street: str
    postal_code: str
    country: str
    time_zone: str
    vat_rate: Decimal
    prefix: str
    legal_name: str
    legal_form: str
    registration: str
    registry: str
    vat_number: str
    description: str
    member: tuple[str, str, str]  # e-mail, display name, profession
    manager: tuple[str, str]
    saturday: bool


SPACES = [
    DemoSpace(
        "lille-vieux-lille",
        "La Ruche du Vieux-Lille",
        "Lille",
        "12 rue de la Monnaie",
        "59800",
        "FR",
        "Europe/Paris",
        Decimal("20.00"),
        "LIL",
        "La Ruche Lille SAS",
        "SAS",
        "812345672",
        "RCS Lille Métropole",
        "FR32812345672",
        "Un ancien entrepôt de briques au cœur du Vieux-Lille : open space lumineux, salle calme et café "
        "de torréfacteur local.",
        ("member-lille@example.com", "Camille Martin", "UX designer"),
        ("manager-lille@example.com", "Inès Lefebvre"),
        False,
    ),
    DemoSpace(
        "paris-canal",
        "Canal Saint-Martin Coworking",
        "Paris",
        "48 quai de Valmy",
        "75010",
        "FR",
        "Europe/Paris",
        Decimal("20.00"),
        "PAR",
        "Canal Cowork SARL",
        "SARL",
        "823456781",
        "RCS Paris",
        "FR45823456781",
        "Face au canal, deux plateaux pour travailler au calme ou en équipe, et des barcamps le jeudi.",
        ("member-paris@example.com", "Léa Dubois", "Développeuse web"),
        ("manager-paris@example.com", "Yanis Benali"),
        True,
    ),
    DemoSpace(
        "montpellier-ecusson",
        "L'Écusson Coworking",
        "Montpellier",
        "3 rue de l'Aiguillerie",
        "34000",
        "FR",
        "Europe/Paris",
        Decimal("20.00"),
        "MTP",
        "Écusson Travail Partagé SAS",
        "SAS",
        "834567890",
        "RCS Montpellier",
        "FR61834567890",
        "Sous les voûtes de l'Écusson, un espace frais l'été, avec terrasse et salle de réunion équipée.",
        ("member-montpellier@example.com", "Hugo Bernard", "Rédacteur web"),
        ("manager-montpellier@example.com", "Sarah Roux"),
        False,
    ),
    DemoSpace(
        "bruxelles-saint-gilles",
        "Saint-Gilles Hub",
        "Bruxelles",
        "21 rue de la Victoire",
        "1060",
        "BE",
        "Europe/Brussels",
        Decimal("21.00"),
        "BXL",
        "Saint-Gilles Hub SRL",
        "SRL",
        "0712345678",
        "RPM Bruxelles",
        "BE0712345678",
        "Une maison de maître transformée en lieu de travail, à deux pas du parvis de Saint-Gilles.",
        ("member-bruxelles@example.com", "Emma Peeters", "Community manager"),
        ("manager-bruxelles@example.com", "Lucas Janssens"),
        True,
    ),
]
SUPERUSER = ("admin@example.com", "Admin")

# (zone name, kind, name pattern, count, capacity, amenities)
LAYOUT = [
    ("Open space", ResourceKind.HOT_DESK, "Bureau {n:02d}", 14, 1, 'écran 27", prise USB-C'),
    ("Salle calme", ResourceKind.HOT_DESK, "Calme {n:02d}", 8, 1, "lampe, silence"),
    ("Bureaux fixes", ResourceKind.DEDICATED_DESK, "Fixe {n:02d}", 6, 1, 'caisson, écran 27"'),
    (
        "Salles de réunion",
        ResourceKind.MEETING_ROOM,
        "Salle {name}",
        2,
        8,
        "écran, visio, tableau blanc",
    ),
    (
        "Bureaux privatifs",
        ResourceKind.PRIVATE_OFFICE,
        "Bureau privatif {n}",
        1,
        4,
        "porte fermée, 4 postes",
    ),
]
ROOM_NAMES = ["Jacquard", "Vauban"]
ROOM_HOURLY_PRICE = Decimal("25.00")
DEMO_IBANS = {"FR": "FR7630006000011234567890189", "BE": "BE68539007547034"}
# (kind, name, price excl. VAT, other fields, price tiers [(from period, price)])
CATALOGUE = [
    (PlanKind.DAY_PASS, "Pass journée", Decimal("25.00"), {}, []),
    (PlanKind.PACK_10, "Carnet 10 jours", Decimal("200.00"), {"desk_days": 10, "validity_months": 6}, []),
    (
        PlanKind.MONTHLY,
        "Mensuel nomade",
        Decimal("250.00"),
        {"room_hours": 2},
        [(4, Decimal("230.00")), (13, Decimal("210.00"))],
    ),
    (
        PlanKind.MONTHLY,
        "Résident (bureau fixe)",
        Decimal("350.00"),
        {"desk_access": "dedicated_desk", "room_hours": 4},
        [(7, Decimal("330.00"))],
    ),
    (PlanKind.ANNUAL, "Annuel nomade", Decimal("2500.00"), {"room_hours": 24, "network_access": True}, []),
]


def _user(
    email: str, name: str, *, password: str | None, staff: bool = False, superuser: bool = False
) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, password=None, is_staff=staff, is_superuser=superuser)
    user.is_staff, user.is_superuser, user.is_active = staff or superuser, superuser, True
    user.first_name, _, user.last_name = name.partition(" ")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    member_services.member_create(user=user)
    Member.objects.filter(user=user, display_name="").update(display_name=name)
    return user


def _space(spec: DemoSpace) -> Space:
    space, _ = Space.objects.update_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "city": spec.city,
            "street_address": spec.street,
            "postal_code": spec.postal_code,
            "country": spec.country,
            "time_zone": spec.time_zone,
            "vat_rate": spec.vat_rate,
            "currency": "EUR",
            "invoice_prefix": spec.prefix,
            "legal_name": spec.legal_name,
            "legal_form": spec.legal_form,
            "share_capital": "10 000 €" if spec.country == "FR" else "",
            "registration_number": spec.registration,
            "registry": spec.registry,
            "vat_number": spec.vat_number,
            "description": spec.description,
            "half_day_split": time(13, 0),
            "booking_window_days": 60,
            "cancellation_cutoff_hours": 24,
            "desks_need_pass": True,
            "bank_iban": DEMO_IBANS[spec.country],
            "bank_bic": "AGRIFRPPXXX" if spec.country == "FR" else "GEBABEBB",
            "is_active": True,
        },
    )
    for weekday in WEEKDAYS:
        OpeningHours.objects.update_or_create(
            space=space, weekday=weekday, defaults={"opens": time(8, 30), "closes": time(19, 0)}
        )
    if spec.saturday:
        OpeningHours.objects.update_or_create(
            space=space, weekday=5, defaults={"opens": time(9, 0), "closes": time(13, 0)}
        )
    for position, (zone_name, kind, pattern, count, capacity, amenities) in enumerate(LAYOUT):
        zone, _ = Zone.objects.update_or_create(space=space, name=zone_name, defaults={"position": position})
        for n in range(1, count + 1):
            name = pattern.format(n=n, name=ROOM_NAMES[n - 1] if kind == ResourceKind.MEETING_ROOM else "")
            Resource.objects.update_or_create(
                space=space,
                name=name,
                defaults={
                    "zone": zone,
                    "kind": kind,
                    "capacity": capacity,
                    "amenities": amenities,
                    "position": n,
                    "hourly_price": ROOM_HOURLY_PRICE if kind == ResourceKind.MEETING_ROOM else Decimal(0),
                    "is_active": True,
                },
            )
    return space


def _plans(space: Space) -> dict[str, Plan]:
    """The degressive catalogue of every demo space: the longer the commitment, the cheaper the day."""
    plans = {}
    for position, (kind, name, price, extra, tiers) in enumerate(CATALOGUE):
        plan, _ = Plan.objects.update_or_create(
            space=space,
            name=name,
            defaults={"kind": kind, "unit_price": price, "position": position, **extra},
        )
        plan.tiers.exclude(first_period__in=[first for first, _price in tiers]).delete()
        for first, tier_price in tiers:
            PriceTier.objects.update_or_create(
                plan=plan, first_period=first, defaults={"unit_price": tier_price}
            )
        plans[name] = plan
    return plans


def _demo_pass(member: User, plan: Plan, start: date, *, paid: bool) -> None:
    """A pass bought on `start` (in the past), paid or not, unless the member already has one."""
    if Pass.objects.filter(member=member, plan=plan).exists():
        return
    member = User.objects.select_related("member").get(pk=member.pk)  # the profile as just updated
    bought_at = datetime.combine(start, time(9, 0), tzinfo=plan.space.tz)
    pass_obj = billing_services.pass_purchase(member=member, plan=plan, start=start, now=bought_at)
    invoice = pass_obj.periods.get().invoice
    if paid and invoice.gross:
        billing_services.payment_record(
            invoice=invoice, amount=invoice.gross, method="transfer", received_on=start, by=None
        )


def _closures(space: Space, year: int) -> None:
    holidays = [
        (date(year, 12, 24), date(year, 12, 26), "Noël"),
        (date(year + 1, 1, 1), date(year + 1, 1, 1), "Jour de l'an"),
    ]
    for start, end, reason in holidays:
        Closure.objects.update_or_create(
            space=space, start_date=start, defaults={"end_date": end, "reason": reason}
        )


@transaction.atomic
def seed(*, with_passwords: bool, today: date) -> list[tuple[str, str]]:
    """Create or refresh the demo network; returns the demo accounts as (e-mail, role)."""
    password = DEMO_PASSWORD if with_passwords else None
    accounts = []
    for spec in SPACES:
        space = _space(spec)
        _closures(space, today.year)
        email, name, profession = spec.member
        member_user = _user(email, name, password=password)
        Member.objects.filter(user=member_user, profession="").update(
            profession=profession, profession_key=skill_key(profession)
        )
        accounts.append((email, f"member, {spec.city}"))
        manager_email, manager_name = spec.manager
        manager = _user(manager_email, manager_name, password=password, staff=True)
        member_services.manager_assign(user=manager, space=space)
        accounts.append((manager_email, f"manager, {spec.city}"))
        plans = _plans(space)
        # Renewals show up within the first hour of `make run`: this pass's period ends today, so the
        # hourly job renews it (and the dunning job sends the notice of the renewal's price).
        monthly_start = periods.add_months_anchored(today, -1) + timedelta(days=1)
        _demo_pass(member_user, plans["Mensuel nomade"], monthly_start, paid=True)
        if spec.city == "Montpellier":
            # A pack bought two days ago and not paid yet: past due, the first reminder goes out.
            _demo_pass(member_user, plans["Carnet 10 jours"], today - timedelta(days=2), paid=False)
    _user(SUPERUSER[0], SUPERUSER[1], password=password, superuser=True)
    accounts.append((SUPERUSER[0], "superuser"))
    accounts += _community(password=password, today=today)
    return accounts


def _community_bookings(users: dict[str, User], space: Space, today: date) -> None:
    """Camille and Inès hold a monthly pass in Lille and a desk there today and tomorrow, so that the
    space's page shows who is in (a closed day, or a desk already theirs, is skipped)."""
    from bookings import services as booking_services
    from bookings.errors import BookingError
    from bookings.models import Booking

    plan = _plans(space)["Mensuel nomade"]
    desks = list(space.resources.filter(kind=ResourceKind.HOT_DESK).order_by("position"))[-2:]
    for desk, email in zip(desks, ["camille.ux@example.com", "ines.dev@example.com"], strict=True):
        user = users[email]
        _demo_pass(user, plan, today, paid=True)
        for day in (today, today + timedelta(days=1)):
            if Booking.objects.filter(member=user, local_date=day, status="confirmed").exists():
                continue
            try:
                slot = booking_services.desk_slot(resource=desk, day=day, part="full_day")
                booking_services.booking_create(member=user, slot=slot, now=timezone.now())
            except BookingError:
                pass


# The community of the demo: members in the directory with their skills, a few requests and offers, and
# events (a Jelly day that needs no pass, a barcamp with talk proposals and votes, a lunch). Each is found
# by a natural key and brought back to this state.
COMMUNITY_MEMBERS = [
    # e-mail, name, profession, skills, space
    ("camille.ux@example.com", "Camille Martin", "UX designer", ["UX design", "Figma"], "lille-vieux-lille"),
    (
        "ines.dev@example.com",
        "Inès Haddad",
        "Développeuse web",
        ["Développeur", "Python", "Django"],
        "lille-vieux-lille",
    ),
    (
        "julien.avocat@example.com",
        "Julien Moreau",
        "Avocat d'affaires",
        ["Droit des contrats"],
        "paris-canal",
    ),
    ("sarah.photo@example.com", "Sarah Lambert", "Photographe", ["Photographie"], "montpellier-ecusson"),
    (
        "tom.cm@example.com",
        "Tom Peeters",
        "Community manager",
        ["Réseaux sociaux", "Rédaction web"],
        "bruxelles-saint-gilles",
    ),
]
COMMUNITY_POSTS = [
    # author, kind, title, skills, space (None: the whole network)
    (
        "camille.ux@example.com",
        "request",
        "Cherche photographe pour des portraits d'équipe",
        ["Photographie"],
        "lille-vieux-lille",
    ),
    (
        "julien.avocat@example.com",
        "offer",
        "Relecture de vos contrats de freelance",
        ["Droit des contrats"],
        None,
    ),
    (
        "tom.cm@example.com",
        "request",
        "Un développeur Django pour un prototype",
        ["Django", "Développeur"],
        "bruxelles-saint-gilles",
    ),
]


def _community(*, password: str | None, today: date) -> list[tuple[str, str]]:
    from community import services as community_services
    from community.models import (
        Event,
        EventKind,
        EventStatus,
        Post,
        ProposalVote,
        Rsvp,
        RsvpStatus,
        TalkProposal,
    )
    from spaces import localtime

    now = datetime.combine(today, time(8, 0), tzinfo=Space.objects.get(slug="lille-vieux-lille").tz)
    spaces = {space.slug: space for space in Space.objects.filter(slug__in=[spec.slug for spec in SPACES])}
    users, accounts = {}, []
    for email, name, profession, skills, slug in COMMUNITY_MEMBERS:
        user = _user(email, name, password=password)
        member = Member.objects.get(user=user)
        member_services.member_update_profile(
            member=member,
            data={"display_name": name, "profession": profession, "directory_opt_in": True},
            skills=skills,
            now=member.directory_consent_at or now,
        )
        community_services.community_profile_update(user=user, data={}, spaces=[spaces[slug]])
        users[email] = user
        accounts.append((email, "member in the directory"))
    for author, kind, title, skills, slug in COMMUNITY_POSTS:
        post = Post.objects.filter(author=users[author], title=title).first()
        if post is None:
            community_services.post_create(
                author=users[author],
                kind=kind,
                title=title,
                body=title + ".",
                skill_names=skills,
                space=spaces[slug] if slug else None,
                expires_on=today + timedelta(days=30),
                today=today,
            )
        else:
            Post.objects.filter(pk=post.pk).update(
                expires_on=today + timedelta(days=30), status="open", hidden=False
            )

    def event(slug, title, kind, days, start, end, **fields):
        space = spaces[slug]
        day = today + timedelta(days=days)
        defaults = {
            "kind": kind,
            "description": fields.pop("description", ""),
            "start": localtime.local_instant(day, start, space.tz),
            "end": localtime.local_instant(day, end, space.tz),
            "status": EventStatus.APPROVED,
            **fields,
        }
        found, _ = Event.objects.update_or_create(space=space, title=title, defaults=defaults)
        return found

    event(
        "lille-vieux-lille",
        "Jelly day",
        EventKind.JELLY,
        3,
        time(9, 0),
        time(18, 0),
        capacity=15,
        no_pass_needed=True,
        open_to_non_members=True,
        description="Venez coworker une journée sans pass : café offert, rencontres garanties.",
    )
    barcamp = event(
        "paris-canal",
        "Barcamp freelances",
        EventKind.BARCAMP,
        10,
        time(9, 30),
        time(17, 30),
        capacity=40,
        accepts_proposals=True,
        description="Les participants proposent les talks et votent le matin même.",
    )
    event(
        "montpellier-ecusson",
        "Déjeuner des membres",
        EventKind.LUNCH,
        5,
        time(12, 30),
        time(14, 0),
        capacity=12,
    )
    for user in users.values():
        Rsvp.objects.get_or_create(
            event=barcamp, user=user, defaults={"status": RsvpStatus.GOING, "requested_at": now}
        )
    _community_bookings(users, spaces["lille-vieux-lille"], today)
    for email, title in [
        ("ines.dev@example.com", "Django en production : retours d'expérience"),
        ("julien.avocat@example.com", "Freelances : les clauses à ne pas signer"),
    ]:
        proposal, _ = TalkProposal.objects.get_or_create(event=barcamp, author=users[email], title=title)
        for voter in list(users.values())[:3]:
            ProposalVote.objects.get_or_create(proposal=proposal, user=voter)
    return accounts
