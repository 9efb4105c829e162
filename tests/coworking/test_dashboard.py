"""The managers' dashboard (admin index, a page per space, the check-in list): every figure against a
small world counted by hand, the scope of a manager, the filters, the charts' tables, the query count.

The world, on Tuesday 10 March 2026 at 10:00 in Paris (both spaces open Monday to Friday, 08:30-19:00,
so a meeting room is open 630 minutes a day):

Paris Bastille (Yanis runs it): desks D1, D2 (hot), D3 (dedicated), D4 (hot, inactive); meeting rooms
R1, R2, R3 (inactive); private office O1 (neither a desk nor a room). Closed on Thursday 12 March.
Lille Centre: desks L1, L2, meeting room LR1.
"""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from billing import periods
from billing.models import (
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Pass,
    PassPeriod,
    PassStatus,
    Payment,
    PaymentStatus,
    PriceTier,
)
from bookings import services as booking_services
from bookings.models import Booking, BookingStatus, DayPart
from coworking import admin_views, charts, dashboard
from spaces.models import ResourceKind
from tests.factories import (
    BookingFactory,
    ClosureFactory,
    ManagerFactory,
    PlanFactory,
    ResourceFactory,
    SpaceFactory,
    UserFactory,
    ZoneFactory,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
TODAY = date(2026, 3, 10)
OLD = datetime(2025, 6, 1, 12, 0, tzinfo=PARIS)
MAX_QUERIES = 18  # coworking.dashboard.dashboard, whatever the number of spaces and rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def person(name: str, joined: datetime = OLD, **extra):
    email = name.lower().replace(" ", ".") + "@example.com"
    return UserFactory(email=email, date_joined=joined, member__display_name=name, **extra)


def make_pass(
    member, plan, *, status=PassStatus.ACTIVE, anchor: date, count: int = 1, auto_renew=True, **extra
):
    """A pass with `count` consecutive periods from `anchor` (no invoice: the billing figures below
    come from invoices made on their own)."""
    pass_obj = Pass.objects.create(
        member=member,
        plan=plan,
        space=plan.space,
        kind=plan.kind,
        status=status,
        anchor_date=anchor,
        auto_renew=auto_renew,
        **extra,
    )
    months = {"monthly": 1, "annual": 12}.get(plan.kind)
    for index in range(count):
        if months:
            period = periods.anchored_period(anchor, months, index)
        else:
            period = periods.Period(
                index, anchor, anchor + timedelta(days=180 if plan.kind == "pack_10" else 0)
            )
        PassPeriod.objects.create(
            pass_obj=pass_obj,
            number=index + 1,
            start_date=period.start,
            end_date=period.end,
            unit_price=plan.unit_price,
            vat_rate=Decimal("20.00"),
        )
    return pass_obj


_numbers = iter(range(1, 10_000))


def invoice(
    member, space, net: str, issued: date, *, status=InvoiceStatus.ISSUED, kind="invoice", corrects=None
):
    net = Decimal(net)
    vat = (net * Decimal("0.20")).quantize(Decimal("0.01"))
    sequence = next(_numbers)
    return Invoice.objects.create(
        kind=kind,
        space=space,
        member=member,
        number=f"{space.invoice_prefix}-{issued.year}-{sequence:05d}",
        year=issued.year,
        sequence=sequence,
        status=status,
        corrects=corrects,
        issue_date=issued,
        due_date=issued,
        currency="EUR",
        net=net,
        vat=vat,
        gross=net + vat,
        seller={},
        buyer={},
        content_hash="x" * 64,
    )


def payment(invoice_obj, amount: str, received_on: date | None, status=PaymentStatus.SUCCEEDED):
    return Payment.objects.create(
        invoice=invoice_obj, amount=Decimal(amount), method="transfer", status=status, received_on=received_on
    )


class World:
    pass


@pytest.fixture
def world():
    w = World()
    w.paris = SpaceFactory(name="Paris Bastille", slug="paris", city="Paris", invoice_prefix="PAR")
    w.lille = SpaceFactory(name="Lille Centre", slug="lille", city="Lille", invoice_prefix="LIL")
    ClosureFactory(space=w.paris, start_date=date(2026, 3, 12), end_date=date(2026, 3, 12), reason="Travaux")
    zone = ZoneFactory(space=w.paris)
    r = {}
    for name, kind, active in [
        ("D1", ResourceKind.HOT_DESK, True),
        ("D2", ResourceKind.HOT_DESK, True),
        ("D3", ResourceKind.DEDICATED_DESK, True),
        ("D4", ResourceKind.HOT_DESK, False),
        ("R1", ResourceKind.MEETING_ROOM, True),
        ("R2", ResourceKind.MEETING_ROOM, True),
        ("R3", ResourceKind.MEETING_ROOM, False),
        ("O1", ResourceKind.PRIVATE_OFFICE, True),
    ]:
        r[name] = ResourceFactory(zone=zone, name=name, kind=kind, is_active=active)
    lille_zone = ZoneFactory(space=w.lille)
    for name, kind in [("L1", ResourceKind.HOT_DESK), ("L2", ResourceKind.HOT_DESK), ("LR1", "meeting_room")]:
        r[name] = ResourceFactory(zone=lille_zone, name=name, kind=kind)
    w.r = r

    # Members. Joined this month (in Paris): Bruno, Dina (00:30 on 1 March, still February in UTC),
    # Félix, Gaston, Hugo, Iris, Jules. Eve joined at 23:30 on 28 February: not this month.
    w.camille = person("Camille Martin", member__company="Atelier C")
    w.bruno = person("Bruno Petit", datetime(2026, 3, 2, 9, tzinfo=PARIS))
    w.dina = person("Dina Haddad", datetime(2026, 3, 1, 0, 30, tzinfo=PARIS))
    w.eve = person("Eve Laurent", datetime(2026, 2, 28, 23, 30, tzinfo=PARIS))
    w.felix = person("Félix Morel", datetime(2026, 3, 5, tzinfo=PARIS))
    w.gaston = person("Gaston Roux", datetime(2026, 3, 3, tzinfo=PARIS))
    w.hugo = person("Hugo Lefebvre", datetime(2026, 3, 4, tzinfo=PARIS))
    w.iris = person("Iris Garnier", datetime(2026, 3, 6, tzinfo=PARIS))
    w.jules = person("Jules Faure", datetime(2026, 3, 7, tzinfo=PARIS))
    w.kim = person("Kim Nguyen")
    w.leo = person("Léo Blanc")
    w.mona = person("Mona Perrin")
    w.nina = person("Nina Lambert")
    w.old = person("Olga Vidal")

    def book(resource, member, day, part=DayPart.FULL_DAY, start=None, end=None, **extra):
        if start is not None:
            part = DayPart.SLOT
        return BookingFactory(
            resource=resource, member=member, day=day, part=part, start_time=start, end_time=end, **extra
        )

    # Today in Paris: desks 2 + 1 + 1 + 1 = 5 half days (2.5 desks of 3); rooms 120 + 90 = 210 minutes
    # of 2 x 630; the private office and the cancelled booking count for neither.
    book(r["D1"], w.camille, TODAY)
    book(r["D2"], w.bruno, TODAY, DayPart.MORNING)
    book(r["D2"], w.dina, TODAY, DayPart.AFTERNOON)
    book(r["D3"], w.eve, TODAY, DayPart.MORNING)
    book(r["D3"], w.felix, TODAY, DayPart.AFTERNOON, status=BookingStatus.CANCELLED, cancelled_at=NOW)
    book(r["R1"], w.camille, TODAY, start=time(9), end=time(11))
    book(r["R2"], w.bruno, TODAY, start=time(14), end=time(15, 30))
    book(r["O1"], w.gaston, TODAY, start=time(10), end=time(12))
    # Other days in Paris.
    for desk, member in [("D1", w.camille), ("D2", w.bruno), ("D3", w.eve)]:
        book(r[desk], member, date(2026, 3, 9))  # Monday: every desk, 100 %
    book(r["R1"], w.camille, date(2026, 3, 9), start=time(8, 30), end=time(19))  # 630 of 1260: 50 %
    book(r["D4"], w.camille, date(2026, 3, 11))  # an inactive desk: not counted
    book(r["D1"], w.bruno, date(2026, 2, 20), DayPart.MORNING)  # 1 half day of 6: 16.7 %
    book(r["D1"], w.camille, date(2026, 2, 1))  # before the period
    book(r["R2"], w.eve, date(2026, 3, 24), start=time(10), end=time(11))  # 60 of 1260: 4.8 %
    # Lille: Hugo today (1 desk of 2); never on Yanis's dashboard.
    book(r["L1"], w.hugo, TODAY)

    # Plans and passes.
    monthly = PlanFactory(space=w.paris, name="Mensuel", kind="monthly", unit_price=Decimal("250.00"))
    PriceTier.objects.create(plan=monthly, first_period=4, unit_price=Decimal("230.00"))
    PriceTier.objects.create(plan=monthly, first_period=13, unit_price=Decimal("210.00"))
    annual = PlanFactory(space=w.paris, name="Annuel", kind="annual", unit_price=Decimal("2400.00"))
    day_pass = PlanFactory(space=w.paris, name="Journée", kind="day_pass", unit_price=Decimal("25.00"))
    pack = PlanFactory(
        space=w.paris, name="Carnet", kind="pack_10", unit_price=Decimal("200.00"), desk_days=10
    )
    lille_monthly = PlanFactory(
        space=w.lille, name="Mensuel Lille", kind="monthly", unit_price=Decimal("200")
    )
    # Renew within 7 days (last period ends 10 to 16 March): Camille (period 4: tier 230 -> 276.00),
    # Bruno (past due, ends today, period 2: 300.00), Iris (annual, ends 16 March: 2880.00).
    w.camille_pass = make_pass(w.camille, monthly, anchor=date(2025, 12, 15), count=3)
    w.bruno_pass = make_pass(
        w.bruno,
        monthly,
        anchor=date(2026, 2, 11),
        status=PassStatus.PAST_DUE,
        past_due_since=date(2026, 3, 1),
    )
    w.iris_pass = make_pass(w.iris, annual, anchor=date(2025, 3, 17), renewal_notice_for=date(2026, 3, 17))
    # Not due: auto-renewal off (Eve), ends after the 7 days (Dina 19 March, Mona 17 March), suspended
    # (Kim), cancelled (Jules), not a renewing kind (Gaston, Léo), another space (Hugo).
    make_pass(w.eve, monthly, anchor=date(2026, 2, 13), auto_renew=False)
    make_pass(w.dina, monthly, anchor=date(2026, 2, 20))
    make_pass(w.mona, monthly, anchor=date(2026, 2, 18))
    make_pass(
        w.kim,
        monthly,
        anchor=date(2026, 1, 5),
        count=2,
        status=PassStatus.SUSPENDED,
        past_due_since=date(2026, 2, 6),
    )
    make_pass(w.jules, monthly, anchor=date(2026, 3, 7), status=PassStatus.CANCELLED)
    make_pass(w.gaston, day_pass, anchor=TODAY)
    make_pass(
        w.leo, pack, anchor=date(2026, 3, 2), status=PassStatus.PAST_DUE, past_due_since=date(2026, 3, 5)
    )
    make_pass(w.hugo, lille_monthly, anchor=date(2026, 2, 12))
    make_pass(w.nina, lille_monthly, anchor=date(2026, 1, 1), status=PassStatus.SUSPENDED)

    # Invoices and payments of Paris (net; VAT 20 %).
    invoice(w.old, w.paris, "100.00", date(2025, 3, 31), status=InvoiceStatus.PAID)  # before the 12 months
    invoice(w.old, w.paris, "10.00", date(2025, 4, 1), status=InvoiceStatus.PAID)
    kim_1 = invoice(w.kim, w.paris, "250.00", date(2026, 1, 5))
    invoice(w.kim, w.paris, "250.00", date(2026, 2, 5))
    payment(kim_1, "300.00", None, status=PaymentStatus.FAILED)
    payment(kim_1, "300.00", None, status=PaymentStatus.PENDING)
    bruno_small = invoice(w.bruno, w.paris, "50.00", date(2026, 1, 20), status=InvoiceStatus.PAID)
    payment(bruno_small, "60.00", date(2026, 1, 25))
    bruno_big = invoice(w.bruno, w.paris, "250.00", date(2026, 2, 11))
    payment(bruno_big, "100.00", date(2026, 2, 20))
    credited = invoice(w.old, w.paris, "100.00", date(2026, 1, 10), status=InvoiceStatus.CREDITED)
    invoice(w.old, w.paris, "-100.00", date(2026, 2, 1), kind=DocumentKind.CREDIT_NOTE, corrects=credited)
    camille_feb = invoice(w.camille, w.paris, "250.00", date(2026, 2, 15), status=InvoiceStatus.PAID)
    payment(camille_feb, "300.00", None)  # a card payment: no received_on, recorded today
    invoice(w.camille, w.paris, "250.00", date(2026, 3, 9))  # unpaid, but Camille is not past due
    leo_pack = invoice(w.leo, w.paris, "200.00", date(2026, 3, 2))
    invoice(w.leo, w.paris, "-40.00", date(2026, 3, 3), kind=DocumentKind.CREDIT_NOTE, corrects=leo_pack)
    # Lille.
    invoice(w.nina, w.lille, "200.00", date(2026, 3, 1))
    hugo_inv = invoice(w.hugo, w.lille, "200.00", date(2026, 3, 2), status=InvoiceStatus.PAID)
    payment(hugo_inv, "240.00", date(2026, 3, 3))

    w.yanis = ManagerFactory(email="yanis@example.com", spaces=[w.paris])
    w.boss = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    return w


def paris_dashboard(w, **kwargs):
    return dashboard.dashboard(spaces=[w.paris], now=NOW, **kwargs)


def day(data, on: date) -> dashboard.Occupancy:
    return next(d for d in data.days if d.day == on)


# --- figures --------------------------------------------------------------------------------------------


def test_todays_occupancy_counts_half_days_and_room_hours(world):
    today = paris_dashboard(world).by_space[0].occupancy
    assert (today.desks, today.desk_half_days, today.desks_booked) == (3, 5, Decimal("2.5"))
    assert today.desk_rate == Decimal("83.3")
    assert (today.rooms, today.room_minutes, today.open_room_minutes) == (2, 210, 1260)
    assert (today.room_hours, today.open_room_hours, today.room_rate) == (
        Decimal("3.5"),
        Decimal("21.0"),
        Decimal("16.7"),
    )


def test_occupancy_per_day_covers_the_last_30_days_and_the_next_14(world):
    data = paris_dashboard(world)
    assert [data.days[0].day, data.days[-1].day, len(data.days)] == [date(2026, 2, 8), date(2026, 3, 24), 45]
    assert (day(data, date(2026, 3, 9)).desk_rate, day(data, date(2026, 3, 9)).room_rate) == (100, 50)
    assert (day(data, TODAY).desk_rate, day(data, TODAY).room_rate) == (Decimal("83.3"), Decimal("16.7"))
    assert (day(data, date(2026, 3, 11)).desk_rate, day(data, date(2026, 3, 11)).desk_half_days) == (0, 0)
    assert (day(data, date(2026, 2, 20)).desk_rate, day(data, date(2026, 2, 20)).room_rate) == (
        Decimal("16.7"),
        0,
    )
    assert (day(data, date(2026, 3, 24)).desk_rate, day(data, date(2026, 3, 24)).room_rate) == (
        0,
        Decimal("4.8"),
    )
    for closed in (date(2026, 3, 12), date(2026, 3, 14)):  # a closure, a Saturday
        occupancy = day(data, closed)
        assert not occupancy.is_open
        assert (occupancy.desks, occupancy.open_room_minutes, occupancy.desk_rate, occupancy.room_rate) == (
            0,
            0,
            None,
            None,
        )
    assert sum(d.desk_half_days for d in data.days) == 6 + 5 + 1  # 9 March, today, 20 February


def test_the_spaces_add_up_for_a_superuser(world):
    data = dashboard.dashboard(spaces=dashboard.spaces_for(user=world.boss), now=NOW, include_signups=True)
    assert [row.space.name for row in data.by_space] == ["Lille Centre", "Paris Bastille"]
    lille = data.by_space[0].occupancy
    assert (lille.desks, lille.desk_half_days, lille.desk_rate, lille.room_rate) == (2, 2, 50, 0)
    total = data.today_total
    assert (total.desks, total.desk_half_days, total.desk_rate) == (5, 7, Decimal("70.0"))
    assert (total.room_minutes, total.open_room_minutes, total.room_rate) == (210, 1890, Decimal("11.1"))


def test_who_is_expected_today(world):
    expected = paris_dashboard(world).by_space[0].expected
    assert [(e.member_name, e.resource_name, e.part) for e in expected] == [
        ("Camille Martin", "D1", DayPart.FULL_DAY),
        ("Bruno Petit", "D2", DayPart.MORNING),
        ("Eve Laurent", "D3", DayPart.MORNING),
        ("Camille Martin", "R1", DayPart.SLOT),
        ("Gaston Roux", "O1", DayPart.SLOT),
        ("Dina Haddad", "D2", DayPart.AFTERNOON),
        ("Bruno Petit", "R2", DayPart.SLOT),
    ]
    assert (expected[3].start_time, expected[3].end_time) == (time(9), time(11))
    assert expected[0].company == "Atelier C"


def test_revenue_per_month_invoiced_and_paid(world):
    data = paris_dashboard(world)
    months = {row.month: row for row in data.revenue}
    assert list(months) == [date(2025, 4, 1)] + [
        date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(5, 16)
    ]
    figures = {
        month: (row.invoiced_net, row.invoiced_gross, row.paid_net, row.paid_gross)
        for month, row in months.items()
        if row.invoiced_gross or row.paid_gross
    }
    assert figures == {
        date(2025, 4, 1): (Decimal("10.00"), Decimal("12.00"), 0, 0),
        # Kim 250, Bruno 50, Olga 100 (credited in February); Bruno paid 60.
        date(2026, 1, 1): (Decimal("400.00"), Decimal("480.00"), Decimal("50.00"), Decimal("60.00")),
        # Kim 250, Bruno 250, Camille 250, less the credit note of 100; Bruno paid 100 of 300 (net 83.33).
        date(2026, 2, 1): (Decimal("650.00"), Decimal("780.00"), Decimal("83.33"), Decimal("100.00")),
        # Camille 250, Léo 200 less a credit note of 40; Camille's card payment recorded today.
        date(2026, 3, 1): (Decimal("410.00"), Decimal("492.00"), Decimal("250.00"), Decimal("300.00")),
    }
    assert [row.invoiced_gross for row in data.revenue_this_month] == [Decimal("492.00")]


def test_active_passes_by_kind(world):
    data = paris_dashboard(world)
    assert [(row.kind, row.count) for row in data.passes_by_kind] == [
        ("day_pass", 1),
        ("rolling_day", 0),
        ("pack_10", 1),  # past due still counts
        ("monthly", 5),  # Camille, Bruno (past due), Eve, Dina, Mona; not Kim (suspended) nor Jules
        ("annual", 1),
    ]
    assert data.active_passes == 8


def test_renewals_due_in_the_next_7_days_with_their_tier_price(world):
    data = paris_dashboard(world)
    assert [
        (r.member_name, r.renews_on, r.period_number, r.unit_price, r.expected_gross, r.notice_sent)
        for r in data.renewals
    ] == [
        ("Bruno Petit", date(2026, 3, 11), 2, Decimal("250.00"), Decimal("300.00"), False),
        ("Camille Martin", date(2026, 3, 15), 4, Decimal("230.00"), Decimal("276.00"), False),
        ("Iris Garnier", date(2026, 3, 17), 2, Decimal("2400.00"), Decimal("2880.00"), True),
    ]
    assert [(t.currency, t.amount) for t in data.renewals_total] == [("EUR", Decimal("3456.00"))]


def test_past_due_and_suspended_members_with_their_balance(world):
    data = paris_dashboard(world)
    assert [
        (a.member_name, a.status, a.past_due_since, a.unpaid_invoices, a.balance) for a in data.arrears
    ] == [
        (
            "Kim Nguyen",
            PassStatus.SUSPENDED,
            date(2026, 2, 6),
            2,
            Decimal("600.00"),
        ),  # failed payment ignored
        ("Bruno Petit", PassStatus.PAST_DUE, date(2026, 3, 1), 1, Decimal("200.00")),  # 300 less 100 paid
        ("Léo Blanc", PassStatus.PAST_DUE, date(2026, 3, 5), 1, Decimal("192.00")),  # 240 less 48 credited
    ]
    assert [(t.currency, t.amount) for t in data.arrears_total] == [("EUR", Decimal("992.00"))]


def test_new_members_this_month(world):
    paris = paris_dashboard(world).new_members
    assert paris.month == date(2026, 3, 1)
    assert paris.count == 4
    assert sorted(m.name for m in paris.members) == [
        "Bruno Petit",
        "Dina Haddad",
        "Gaston Roux",
        "Iris Garnier",
    ]
    assert paris.signups is None
    everyone = dashboard.dashboard(
        spaces=dashboard.spaces_for(user=world.boss), now=NOW, include_signups=True
    ).new_members
    assert (everyone.count, everyone.by_space) == (5, {world.lille.pk: 1, world.paris.pk: 4})
    # Joined in March: Bruno, Dina, Félix, Gaston, Hugo, Iris, Jules, and the two staff accounts.
    assert everyone.signups == 9


def test_an_explicit_period_covers_its_days_and_its_last_12_months():
    period = dashboard.period_for(today=TODAY, first=date(2025, 3, 10), last=date(2026, 3, 10))
    assert (len(period.days), period.months[0], period.months[-1], len(period.months)) == (
        366,
        date(2025, 4, 1),
        date(2026, 3, 1),
        12,
    )
    with pytest.raises(ValueError, match="366"):
        dashboard.period_for(today=TODAY, first=date(2025, 3, 9), last=date(2026, 3, 10))


# --- pages and scope --------------------------------------------------------------------------------


@pytest.fixture
def as_yanis(english, world):
    english.force_login(world.yanis)
    return english


@pytest.fixture
def as_boss(english, world):
    english.force_login(world.boss)
    return english


def html(response) -> str:
    return response.content.decode()


def test_the_admin_index_shows_the_dashboard_above_the_app_list(as_yanis, world):
    response = as_yanis.get(reverse("admin:index"))
    assert response.status_code == 200
    page = html(response)
    assert page.index('id="dashboard-today"') < page.index('id="content-related"')
    assert "app-billing" in page  # the usual app list is still there
    assert 'role="img"' in page
    today_row = re.search(rf'<tr data-space="{world.paris.pk}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', today_row)
    assert cells == ["2.5", "3", "83.3%", "3.5", "21.0", "16.7%", "7"]


def test_a_manager_never_sees_the_other_space(as_yanis, world):
    page = html(as_yanis.get(reverse("admin:index")))
    assert "Paris Bastille" in page
    assert "Lille Centre" not in page
    assert "Hugo Lefebvre" not in page  # Lille's booking and renewal
    assert "Nina Lambert" not in page  # Lille's suspended member
    assert "accounts created this month in all" not in page  # the network's sign-ups: superusers only
    # Asking for Lille shows Paris, with a message.
    response = as_yanis.get(reverse("admin:index"), {"space": world.lille.pk})
    assert response.status_code == 200
    assert "Lille Centre" not in html(response)
    assert "You do not run the space asked for" in html(response)
    assert as_yanis.get(reverse("admin_dashboard_space", args=[world.lille.pk])).status_code == 404
    assert as_yanis.get(reverse("admin_dashboard_check_in", args=[world.lille.pk])).status_code == 404
    assert as_yanis.get(reverse("admin_dashboard_space", args=[world.paris.pk])).status_code == 200


def test_the_space_filter_narrows_a_superusers_dashboard(as_boss, world):
    page = html(as_boss.get(reverse("admin:index")))
    assert f'data-space="{world.lille.pk}"' in page
    assert f'data-space="{world.paris.pk}"' in page
    page = html(as_boss.get(reverse("admin:index"), {"space": world.lille.pk}))
    assert f'data-space="{world.lille.pk}"' in page
    assert f'data-space="{world.paris.pk}"' not in page
    assert "9 accounts created this month in all." in page


def test_this_months_revenue_is_summed_up(as_yanis, world):
    page = html(as_yanis.get(reverse("admin:index")))
    assert "This month: €492.00 invoiced and €300.00 received, VAT included." in page


def test_the_dashboard_needs_a_staff_login(client, world):
    response = client.get(reverse("admin_dashboard_space", args=[world.paris.pk]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    client.force_login(world.camille)
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_who_run_no_space_see_the_app_list_and_a_note(english, world):
    english.force_login(ManagerFactory(email="nobody@example.com"))
    page = html(english.get(reverse("admin:index")))
    assert "You do not run any space yet" in page
    assert 'id="dashboard-today"' not in page


def test_the_check_in_list_shows_who_is_expected_today(as_yanis, world):
    response = as_yanis.get(reverse("admin_dashboard_check_in", args=[world.paris.pk]))
    assert response.status_code == 200
    page = html(response)
    names = re.findall(r'<th scope="row">(.*?)</th>', page)
    assert names == [
        "Bruno Petit",
        "Bruno Petit",
        "Camille Martin",
        "Camille Martin",
        "Dina Haddad",
        "Eve Laurent",
        "Gaston Roux",
    ]
    assert page.count('type="checkbox"') == 7
    assert "Félix" not in page
    assert "Hugo" not in page
    assert "09:00–11:00" in page
    assert "Atelier C" in page
    assert "css/dashboard.css" in page


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": "2026-13-45", "to": "nope"}, "Enter a valid date."),
        ({"from": "2026-03-10", "to": "2026-01-01"}, "The period ends before it starts."),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "A period covers at most 366 days."),
        ({"from": "0001-01-01", "to": "0001-01-05"}, "The dates must lie within 20 years of today."),
    ],
)
def test_bad_dates_show_the_default_period_with_a_message(as_yanis, world, params, reason):
    response = as_yanis.get(reverse("admin_dashboard_space", args=[world.paris.pk]), params)
    assert response.status_code == 200
    page = html(response)
    assert reason in page
    assert "The dashboard shows the last 30 days and the next 14 instead." in page
    assert response.context["dashboard"].period.is_default


def test_a_valid_period_is_used(as_yanis, world):
    response = as_yanis.get(reverse("admin:index"), {"from": "2026-03-09", "to": "2026-03-10"})
    data = response.context["dashboard"]
    assert [d.day for d in data.days] == [date(2026, 3, 9), TODAY]
    assert data.period.months == (date(2026, 3, 1),)
    # Only one date: the default window's length from it.
    response = as_yanis.get(reverse("admin:index"), {"from": "2026-03-01"})
    assert (response.context["dashboard"].period.first, response.context["dashboard"].period.last) == (
        date(2026, 3, 1),
        date(2026, 4, 14),
    )


def table_values(svg_and_table: str) -> list[list[str]]:
    return [
        re.findall(r'data-value="([^"]*)"', row) for row in re.findall(r"<tr>(.*?)</tr>", svg_and_table, re.S)
    ]


def test_the_charts_tables_list_the_selectors_figures(as_yanis, world):
    response = as_yanis.get(reverse("admin_dashboard_space", args=[world.paris.pk]))
    data, drawn = response.context["dashboard"], response.context["dashboard_charts"]
    page = html(response)
    with translation.override("en"):
        occupancy = drawn["occupancy"].table()
    assert occupancy in page
    assert table_values(occupancy)[1:] == [
        ["" if d.desk_rate is None else str(d.desk_rate), "" if d.room_rate is None else str(d.room_rate)]
        for d in data.days
    ]
    (revenue,) = drawn["revenue"]
    assert table_values(revenue.table())[1:] == [
        [str(r.invoiced_net), str(r.invoiced_gross), str(r.paid_net), str(r.paid_gross)] for r in data.revenue
    ]
    assert table_values(drawn["passes"].table())[1:] == [[str(row.count)] for row in data.passes_by_kind]


def test_the_dashboard_in_french(french, world):
    french.force_login(world.yanis)
    page = html(french.get(reverse("admin_dashboard_space", args=[world.paris.pk])))
    assert '<html lang="fr"' in page
    today_row = re.search(rf'<tr data-space="{world.paris.pk}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(.*?)</td>', today_row) == [
        "2,5",
        "3",
        "83,3 %",
        "3,5",
        "21,0",
        "16,7 %",
        "7",
    ]
    assert "2\xa0880,00\xa0€" in page  # Iris's renewal
    assert "3\xa0456,00\xa0€" in page  # the renewals' total
    assert '<td data-value="83.33">83,33\xa0€</td>' in page  # February's paid net in the revenue table


# --- the long tables, written in Python -----------------------------------------------------------------


def test_the_long_tables_rows_link_escape_and_format_their_figures(as_yanis, world):
    world.camille.member.display_name = "Camille <b>Martin</b>"
    world.camille.member.save()
    page = html(as_yanis.get(reverse("admin:index")))
    room = Booking.objects.get(resource=world.r["R1"], local_date=TODAY)
    assert (
        f'<tr><td>09:00\u201311:00</td><th scope="row">Camille &lt;b&gt;Martin&lt;/b&gt; '
        f'<span class="quiet">(Atelier C)</span></th><td><a href="/admin/bookings/booking/{room.pk}/change/">'
        "R1</a></td></tr>"
    ) in page
    assert "<b>Martin</b>" not in page
    assert (
        f'<th scope="row"><a href="/admin/billing/pass/{world.iris_pass.pk}/change/">Iris Garnier</a></th>'
        '<td>Annuel</td><td class="num">2</td><td>Active</td><td class="num">€2,880.00</td><td>yes</td></tr>'
    ) in page
    assert (
        '<tr><th scope="row">Kim Nguyen <span class="quiet">kim.nguyen@example.com</span></th>'
        "<td>Suspended</td><td>02/06/2026</td>"
        '<td class="num"><a href="/admin/billing/invoice/?status__exact=issued&amp;'
        'q=kim.nguyen%40example.com">2</a></td><td class="num">€600.00</td></tr>'
    ) in page


def test_a_superusers_arrears_name_the_space(as_boss, world):
    page = html(as_boss.get(reverse("admin:index")))
    assert '<span class="quiet">nina.lambert@example.com</span> · Lille Centre</th>' in page
    assert '<span class="quiet">kim.nguyen@example.com</span> · Paris Bastille</th>' in page


# --- the figures' cache -------------------------------------------------------------------------------


def today_cells(page: str, space) -> list[str]:
    row = re.search(rf'<tr data-space="{space.pk}">(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<td class="num">(.*?)</td>', row)


def test_the_figures_are_kept_a_minute_and_say_when_they_were_computed(as_yanis, world, time_machine):
    page = html(as_yanis.get(reverse("admin:index")))
    note = "Figures as of 10:00: bookings show at once, invoices and payments within 60 seconds."
    assert note in page
    assert "This month: €492.00 invoiced and €300.00 received, VAT included." in page
    # Léo pays €120 of his pack by transfer: served from the cache, the page does not show it yet...
    payment(Invoice.objects.get(member=world.leo, kind=DocumentKind.INVOICE), "120.00", TODAY)
    time_machine.move_to(NOW + timedelta(seconds=59), tick=False)
    response = as_yanis.get(reverse("admin:index"))
    assert not response.templates  # the whole page from the cache: nothing rendered, nothing computed
    page = html(response)
    assert "€300.00 received" in page
    assert note in page
    # ...and shows it once the minute has passed.
    time_machine.move_to(NOW + timedelta(seconds=61), tick=False)
    page = html(as_yanis.get(reverse("admin:index")))
    assert "This month: €492.00 invoiced and €420.00 received, VAT included." in page
    assert "Figures as of 10:01" in page


def test_the_whole_index_is_kept_for_its_user_with_their_own_token_and_messages(as_yanis, world, client):
    first = as_yanis.get(reverse("admin:index"))
    assert first.templates  # rendered by this request
    again = as_yanis.get(reverse("admin:index"), {"from": "2026-13-45"})
    again = as_yanis.get(reverse("admin:index"), {"from": "2026-13-45"})
    # The second time with this query string: from the cache, only its message rendered.
    assert [template.name for template in again.templates] == ["admin/_messages.html"]
    page = html(again)
    assert '<ul class="messagelist">' in page  # this request's message, in the cached page
    assert "Enter a valid date." in page
    assert "__page_cache_csrf_token__" not in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert token != re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html(first)).group(1)
    # The token works: signing out from the cached page's form.
    as_yanis.cookies["csrftoken"] = again.cookies.get("csrftoken", as_yanis.cookies["csrftoken"])
    csrf_client = type(as_yanis)(enforce_csrf_checks=True)
    csrf_client.cookies = as_yanis.cookies
    assert csrf_client.post(reverse("admin:logout"), {"csrfmiddlewaretoken": token}).status_code == 200


def test_the_managers_own_action_shows_at_once_in_recent_actions(as_yanis, world):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    as_yanis.get(reverse("admin:index"))
    assert not as_yanis.get(reverse("admin:index")).templates
    LogEntry.objects.create(
        user=world.yanis,
        content_type=ContentType.objects.get_for_model(world.paris),
        object_id=str(world.paris.pk),
        object_repr="Paris Bastille (renamed)",
        action_flag=CHANGE,
    )
    response = as_yanis.get(reverse("admin:index"))
    assert response.templates
    assert "Paris Bastille (renamed)" in html(response)


def test_a_booking_or_a_cancellation_shows_at_once(
    as_yanis, world, time_machine, django_capture_on_commit_callbacks
):
    page = html(as_yanis.get(reverse("admin:index")))
    assert (today_cells(page, world.paris)[0], today_cells(page, world.paris)[-1]) == ("2.5", "7")
    time_machine.move_to(NOW + timedelta(seconds=5), tick=False)
    morning = Booking.objects.get(resource=world.r["D2"], member=world.bruno, local_date=TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking=morning, by=world.yanis, now=NOW, reason="Works")
    page = html(as_yanis.get(reverse("admin:index")))
    assert (today_cells(page, world.paris)[0], today_cells(page, world.paris)[-1]) == ("2", "6")
    assert "Figures as of 10:00" in page  # computed again within the minute
    expected = page.split('id="dashboard-expected"')[1].split("</section>")[0]
    assert '<tr><td>Morning</td><th scope="row">Bruno Petit</th>' not in expected
    assert '<tr><td>Morning</td><th scope="row">Eve Laurent</th>' in expected


def test_the_cache_never_shows_a_manager_another_managers_figures(client, world):
    zoe = ManagerFactory(email="zoe@example.com", spaces=[world.lille])
    both = ManagerFactory(email="both@example.com", spaces=[world.paris, world.lille])
    client.cookies["django_language"] = "en"
    pages = {}
    for user in (world.yanis, zoe, both, world.boss):
        client.force_login(user)
        pages[user.email] = html(client.get(reverse("admin:index")))
    assert f'data-space="{world.paris.pk}"' in pages["yanis@example.com"]
    assert f'data-space="{world.lille.pk}"' not in pages["yanis@example.com"]
    assert f'data-space="{world.lille.pk}"' in pages["zoe@example.com"]
    assert "Paris Bastille" not in pages["zoe@example.com"]
    assert "Nina Lambert" in pages["zoe@example.com"]
    assert "Kim Nguyen" not in pages["zoe@example.com"]
    assert all(f'data-space="{s.pk}"' in pages["both@example.com"] for s in (world.paris, world.lille))
    # The same spaces, but the network's sign-ups are for superusers only.
    assert "accounts created this month in all" not in pages["both@example.com"]
    assert "11 accounts created this month in all." in pages["boss@example.com"]  # with Zoé and both@
    # Assigned Lille within the minute, Yanis sees both spaces at once: his spaces are part of the key.
    world.yanis.manager_assignments.create(space=world.lille)
    client.force_login(world.yanis)
    page = html(client.get(reverse("admin:index")))
    assert f'data-space="{world.lille.pk}"' in page
    # The space filter and a space's own page are kept apart.
    page = html(client.get(reverse("admin:index"), {"space": world.paris.pk}))
    assert f'data-space="{world.lille.pk}"' not in page
    page = html(client.get(reverse("admin_dashboard_space", args=[world.lille.pk])))
    assert f'data-space="{world.paris.pk}"' not in page
    assert 'name="space"' not in page


def test_each_language_has_its_own_figures(client, world):
    client.force_login(world.yanis)
    client.cookies["django_language"] = "en"
    assert today_cells(html(client.get(reverse("admin:index"))), world.paris)[2] == "83.3%"
    client.cookies["django_language"] = "fr"
    page = html(client.get(reverse("admin:index")))
    assert today_cells(page, world.paris)[2] == "83,3 %"


def test_without_the_cache_every_request_computes_the_figures(as_yanis, world, settings):
    settings.DASHBOARD_CACHE_SECONDS = 0
    as_yanis.get(reverse("admin:index"))
    BookingFactory(resource=world.r["D3"], member=world.kim, day=TODAY, part=DayPart.AFTERNOON)
    response = as_yanis.get(reverse("admin:index"))
    assert isinstance(response.context["dashboard"], dashboard.Dashboard)
    assert today_cells(html(response), world.paris)[-1] == "8"
    assert "Figures as of" not in html(response)


# --- the SVG charts -----------------------------------------------------------------------------------


def test_a_chart_is_an_accessible_escaped_image_with_its_table():
    chart = charts.bar_chart(
        chart_id="t",
        title="Revenue <b>",
        categories=["Jan", "Feb & co"],
        series=[
            charts.Series("<script>", [Decimal("12.5"), None]),
            charts.Series("Paid", [3, Decimal("-2")]),
        ],
        category_header="Month",
    )
    with translation.override("en"):
        svg, table = chart.svg(), chart.table()
    assert svg.startswith(
        '<svg class="chart chart-bar" id="t" role="img" aria-labelledby="t-title" aria-describedby="t-desc"'
    )
    assert '<title id="t-title">Revenue &lt;b&gt;</title>' in svg
    assert "<script>" not in svg
    assert "<script>" not in table
    assert "&lt;script&gt;" in svg
    assert svg.count('<rect class="series-0" x=') == 2  # a legend swatch and one bar (None draws none)
    assert table_values(table)[1:] == [["12.5", "3"], ["", "-2"]]
    assert '<td data-value="">—</td>' in table
    assert "Feb &amp; co" in table
    assert "style=" not in svg + table


def test_a_line_chart_breaks_on_missing_values():
    chart = charts.line_chart(
        chart_id="l",
        title="Occupancy",
        categories=["a", "b", "c", "d", "e"],
        series=[charts.Series("Desks", [10, 20, None, 30, 40])],
        category_header="Day",
        y_max=100,
    )
    svg = chart.svg()
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 4
    with pytest.raises(ValueError, match="values"):
        charts.line_chart(
            chart_id="x", title="x", categories=["a"], series=[charts.Series("s", [])], category_header=""
        )


# --- bounded queries ----------------------------------------------------------------------------------


def populate(tag: str, space_count: int, rows: int) -> list:
    """`space_count` spaces with `rows` of each kind (bookings today and on other days, passes due and
    in arrears, invoices, payments, credit notes, new members)."""
    spaces = []
    for s in range(space_count):
        space = SpaceFactory(name=f"Space {tag}{s}", slug=f"{tag}{s}", invoice_prefix=f"{tag.upper()}{s}")
        ClosureFactory(space=space, start_date=date(2026, 3, 12), end_date=date(2026, 3, 12))
        zone = ZoneFactory(space=space)
        resources = [
            ResourceFactory(zone=zone, name=f"Desk {n}", kind=ResourceKind.HOT_DESK) for n in range(5)
        ]
        resources += [
            ResourceFactory(zone=zone, name=f"Room {n}", kind=ResourceKind.MEETING_ROOM) for n in range(5)
        ]
        plan = PlanFactory(space=space, kind="monthly", unit_price=Decimal("250.00"))
        PriceTier.objects.create(plan=plan, first_period=4, unit_price=Decimal("230.00"))
        bookings = []
        for i in range(rows):
            member = person(f"Member {tag}{s}-{i}", datetime(2026, 3, 2, tzinfo=PARIS) if i % 2 else OLD)
            # One booking per resource and day (PostgreSQL's exclusion constraints), today and before.
            resource, on = resources[i % 10], TODAY - timedelta(days=i // 10)
            bounds = space.day_bounds(on) if resource.is_desk else space.half_day_bounds(on)[0]
            bookings.append(
                Booking(
                    resource=resource,
                    space=space,
                    member=member,
                    start=bounds.start,
                    end=bounds.end,
                    local_date=on,
                    part=DayPart.FULL_DAY if resource.is_desk else DayPart.SLOT,
                    is_desk=resource.is_desk,
                    confirmation_pending=False,
                )
            )
            status = [PassStatus.ACTIVE, PassStatus.PAST_DUE, PassStatus.SUSPENDED][i % 3]
            make_pass(member, plan, anchor=date(2026, 2, 11), status=status)
            inv = invoice(member, space, "250.00", date(2026, 1 + i % 3, 5))
            payment(inv, "100.00", date(2026, 1 + i % 3, 6))
            if i % 5 == 0:
                invoice(
                    member, space, "-10.00", date(2026, 3, 1), kind=DocumentKind.CREDIT_NOTE, corrects=inv
                )
        Booking.objects.bulk_create(bookings)
        spaces.append(space)
    return spaces


def count_queries(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


@pytest.mark.parametrize("superuser", [False, True])
def test_the_number_of_queries_does_not_grow_with_spaces_or_rows(
    superuser, django_assert_max_num_queries, client
):
    small = populate("a", 1, 5)
    user = UserFactory(email="small@example.com", is_staff=True, is_superuser=superuser)
    if not superuser:
        user.manager_assignments.create(space=small[0])
    client.force_login(user)

    def selectors(spaces):
        return lambda: dashboard.dashboard(spaces=spaces, now=NOW, include_signups=superuser)

    def page():
        assert client.get(reverse("admin:index")).status_code == 200

    with django_assert_max_num_queries(MAX_QUERIES):
        selectors(small)()
    small_counts = count_queries(selectors(small)), count_queries(page)

    large = populate("b", 3, 200)
    if not superuser:
        for space in large:
            user.manager_assignments.create(space=space)
    with django_assert_max_num_queries(MAX_QUERIES):
        data = selectors(large)()
    assert sum(len(row.expected) for row in data.by_space) == 3 * 10
    assert len(data.arrears) == 3 * 133
    assert len(data.renewals) == 3 * 134
    assert (count_queries(selectors(large)), count_queries(page)) == small_counts


def test_the_views_module_builds_the_charts_of_an_empty_dashboard(world):
    data = dashboard.dashboard(spaces=[], now=NOW)
    drawn = admin_views.dashboard_charts(data)
    assert drawn["revenue"] == []
    assert drawn["occupancy"].categories == []


def test_the_index_lists_the_first_rows_and_the_spaces_page_all_of_them(client):
    (space,) = populate("r", 1, 80)
    manager = ManagerFactory(email="rows@example.com", spaces=[space])
    client.cookies["django_language"] = "en"
    client.force_login(manager)
    index = html(client.get(reverse("admin:index")))
    renewals = index.split('id="renewals-table"')[1].split("</table>")[0]
    arrears = index.split('id="arrears-table"')[1].split("</table>")[0]
    page_url = reverse("admin_dashboard_space", args=[space.pk])
    data = dashboard.dashboard(spaces=[space], now=NOW)
    for table, total in ((renewals, len(data.renewals)), (arrears, len(data.arrears))):
        assert total > admin_views.INDEX_ROWS
        body = table.split("<tbody>")[1].split("</tbody>")[0]
        assert body.count("<tr>") == admin_views.INDEX_ROWS
        assert f'<a href="{page_url}">and {total - admin_views.INDEX_ROWS} more</a>' in body
    # The space's own page lists every row, with nothing hidden.
    page = html(client.get(page_url))
    renewals = page.split('id="renewals-table"')[1].split("</tbody>")[0]
    assert renewals.count("<tr>") == len(data.renewals) + 1  # and the header row
    assert "dashboard-more" not in page
