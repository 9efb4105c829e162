"""PreparedQuery: SQL built once by the ORM, run again with new values, with the ORM's own results."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Q, Value
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking
from spaces.models import Closure, Space
from spaces.prepared import PreparedQuery
from tests.factories import BookingFactory, ClosureFactory, SpaceFactory

pytestmark = pytest.mark.django_db


def closures(space_id, day):
    return Closure.objects.filter(space_id=space_id, start_date__lte=day, end_date__gte=day).order_by("pk")


def bookings(space_id, start, end):
    return (
        Booking.objects.filter(space_id=space_id, start__lt=end, end__gt=start)
        .order_by("pk")
        .values_list("pk", "start", "local_date")
    )


@pytest.fixture
def spaces():
    paris, lille = SpaceFactory(), SpaceFactory()
    for space, first in ((paris, 24), (paris, 31), (lille, 24)):
        start = date(2026, 12, first)
        ClosureFactory(space=space, start_date=start, end_date=start + timedelta(days=1))
    return paris, lille


@pytest.mark.parametrize(
    "shape",
    [
        lambda qs: qs.values_list("pk", flat=True),
        lambda qs: qs.values_list("pk", "start_date", "reason"),
        lambda qs: qs.values("pk", "end_date", "space_id"),
        lambda qs: qs,
    ],
    ids=["flat", "tuples", "dicts", "instances"],
)
def test_each_call_returns_what_the_queryset_returns_for_its_values(spaces, shape):
    query = PreparedQuery(lambda space_id, day: shape(closures(space_id, day)), space_id=int, day=date)
    for space in spaces:
        for day in (date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31), date(2026, 12, 27)):
            expected = list(shape(closures(space.pk, day)))
            assert query.fetch(space_id=space.pk, day=day) == expected
            if expected and not isinstance(expected[0], Closure):
                assert [type(value) for value in _values(query.first(space_id=space.pk, day=day))] == [
                    type(value) for value in _values(expected[0])
                ]


def _values(row):
    return list(row.values()) if isinstance(row, dict) else row if isinstance(row, tuple) else [row]


def test_instances_are_whole_model_instances_from_the_database(spaces):
    paris, _lille = spaces
    query = PreparedQuery(lambda space_id, day: closures(space_id, day), space_id=int, day=date)
    closure = query.first(space_id=paris.pk, day=date(2026, 12, 25))
    assert closure == Closure.objects.get(space=paris, start_date=date(2026, 12, 24))
    assert (closure.start_date, closure.end_date, closure.space_id) == (
        date(2026, 12, 24),
        date(2026, 12, 25),
        paris.pk,
    )
    assert not closure._state.adding
    assert closure._state.db == "default"
    closure.reason = "Noël"
    closure.save()  # an instance like any other
    assert Closure.objects.get(pk=closure.pk).reason == "Noël"
    assert query.first(space_id=paris.pk, day=date(2027, 1, 15)) is None


def test_datetimes_go_in_and_come_out_aware_and_exact(spaces):
    paris, _lille = spaces
    booking = BookingFactory(resource__space=paris)
    query = PreparedQuery(bookings, space_id=int, start=datetime, end=datetime)
    inside = (booking.start + timedelta(hours=1), booking.end - timedelta(hours=1))
    assert query.fetch(space_id=paris.pk, start=inside[0], end=inside[1]) == [
        (booking.pk, booking.start, booking.local_date)
    ]
    [(_pk, start, local_date)] = query.fetch(space_id=paris.pk, start=inside[0], end=inside[1])
    assert start.tzinfo is not None
    assert start == booking.start
    assert isinstance(local_date, date)
    # Half-open: a range that only touches the booking does not find it; the instant is compared exactly.
    assert query.fetch(space_id=paris.pk, start=booking.end, end=booking.end + timedelta(hours=1)) == []
    later = booking.end - timedelta(microseconds=1)
    assert query.fetch(space_id=paris.pk, start=later, end=booking.end + timedelta(hours=1)) != []
    # Another zone's clock for the same instants: the same rows.
    assert query.fetch(
        space_id=paris.pk, start=inside[0].astimezone(UTC), end=inside[1].astimezone(UTC)
    ) == query.fetch(space_id=paris.pk, start=inside[0], end=inside[1])


def test_it_runs_one_query_through_the_connection_and_builds_the_sql_once(spaces, monkeypatch):
    paris, lille = spaces
    built = []
    query = PreparedQuery(
        lambda space_id, day: built.append(1) or closures(space_id, day).values_list("pk"),
        space_id=int,
        day=date,
    )
    with CaptureQueriesContext(connection) as captured:
        query.fetch(space_id=paris.pk, day=date(2026, 12, 24))
        query.fetch(space_id=lille.pk, day=date(2026, 12, 25))
    assert len(captured.captured_queries) == 2  # seen by the debug tools and the query-count tests
    assert built == [1, 1]  # twice on the first call (the second checks the slots), never again


@pytest.mark.parametrize(
    ("build", "kinds", "message"),
    [
        (
            lambda name: Space.objects.filter(name__contains=name).values_list("pk"),
            {"name": str},
            "a parameter",
        ),
        (lambda pk: Closure.objects.filter(pk=pk).select_related("space"), {"pk": int}, "without joins"),
        (lambda pk: Closure.objects.filter(pk=pk).only("space__name"), {"pk": int}, "own fields"),
        (
            lambda name: Space.objects.filter(Q(name=name) | Q(slug__startswith=name)).values_list("pk"),
            {"name": str},
            "other than as a parameter",
        ),
        (
            lambda pk: Closure.objects.filter(pk=pk).annotate(n=Value(1)).values_list("n", "pk"),
            {"pk": int},
            "select order",
        ),
    ],
    ids=[
        "value-rewritten",
        "select-related",
        "deferred-across-a-join",
        "value-also-rewritten",
        "annotation-in-values-list",
    ],
)
def test_a_query_that_cannot_be_prepared_is_refused_at_its_first_call(build, kinds, message):
    query = PreparedQuery(build, **kinds)
    with pytest.raises(ImproperlyConfigured, match=message):
        query.fetch(**{name: kind() if kind is not str else "x" for name, kind in kinds.items()})


def test_a_kind_without_a_stand_in_is_refused_at_once():
    with pytest.raises(ImproperlyConfigured, match="no stand-in"):
        PreparedQuery(lambda ratio: Space.objects.all(), ratio=float)


def test_outside_debugging_it_keeps_djangos_errors_and_its_broken_transaction_guard(spaces):
    from django.db import IntegrityError, transaction
    from django.db.transaction import TransactionManagementError

    from spaces.prepared import PreparedInsert

    paris, _lille = spaces
    assert not connection.queries_logged  # the driver's cursor is used, not Django's
    new_closure = PreparedInsert(Closure)
    closure = new_closure.create(space=paris, start_date=date(2027, 1, 4), end_date=date(2027, 1, 5))
    assert Closure.objects.get(pk=closure.pk).end_date == date(2027, 1, 5)
    query = PreparedQuery(
        lambda space_id, day: closures(space_id, day).values_list("pk"), space_id=int, day=date
    )
    with transaction.atomic():
        with pytest.raises(IntegrityError):  # Django's class: the booking service catches this one
            new_closure.create(space=paris, start_date=date(2027, 1, 9), end_date=date(2027, 1, 8))
        with pytest.raises(TransactionManagementError):
            query.fetch(space_id=paris.pk, day=date(2027, 1, 4))
        transaction.set_rollback(True)


def test_an_insert_builds_its_sql_once_and_sets_what_save_sets(spaces):
    from spaces.prepared import PreparedInsert

    paris, _lille = spaces
    new_closure = PreparedInsert(Closure)
    first = new_closure.create(
        space=paris, start_date=date(2027, 2, 1), end_date=date(2027, 2, 2), reason="a"
    )
    second = new_closure.create(space_id=paris.pk, start_date=date(2027, 3, 1), end_date=date(2027, 3, 1))
    assert second.pk > first.pk
    assert not second._state.adding
    assert list(Closure.objects.filter(pk__in=[first.pk, second.pk]).values_list("reason", flat=True)) == [
        "a",
        "",
    ]
    assert len(new_closure._plans) == 1


@pytest.mark.parametrize(
    ("shape", "loaded"),
    [
        (lambda qs: qs.only("space", "reason"), {"id", "space_id", "reason"}),
        (lambda qs: qs.defer("reason"), {"id", "space_id", "start_date", "end_date"}),
    ],
    ids=["only", "defer"],
)
def test_instances_with_deferred_fields_load_the_rest_when_read(spaces, shape, loaded):
    paris, _lille = spaces
    query = PreparedQuery(lambda space_id, day: shape(closures(space_id, day)), space_id=int, day=date)
    closure = query.first(space_id=paris.pk, day=date(2026, 12, 24))
    assert set(closure.__dict__) & {"id", "space_id", "reason", "start_date", "end_date"} == loaded
    with CaptureQueriesContext(connection) as captured:
        assert closure.end_date == date(2026, 12, 25)
    assert len(captured.captured_queries) == (0 if "end_date" in loaded else 1)


def test_an_unsaved_related_object_is_refused_as_save_refuses_it(spaces):
    from spaces.prepared import PreparedInsert

    with pytest.raises(ValueError, match="unsaved related object"):
        PreparedInsert(Closure).create(
            space=Space(name="Pas encore"), start_date=date(2027, 4, 1), end_date=date(2027, 4, 2)
        )
