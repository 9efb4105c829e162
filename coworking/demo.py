"""The demo network loaded by `manage.py seed_demo` (and so by `make run`). Idempotent: every row is
found by a natural key and brought back to the state below, so running it twice changes nothing."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction

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
    return accounts
