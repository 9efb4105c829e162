"""Queries whose SQL is built once: the ORM writes it, and later calls only put in new values.

Turning a QuerySet into SQL costs far more than running it does when the query is an indexed lookup: on the
booking POST, compiling its handful of reads took most of the request, the database a few percent. A
PreparedQuery builds its QuerySet once per database (with stand-in values), compiles it, notes where each
stand-in landed among the SQL parameters and how the backend adapted it, and from then on runs the stored SQL
with the caller's values in those places. The SQL still comes from the models, so it follows their changes;
the results go through the same converters as the ORM's own (dates on SQLite, decimals, booleans).

What fits: the QuerySet's shape must not depend on the values (the builder is called once, with stand-ins),
and each value must reach the SQL as a parameter (equality, ranges, comparisons; not `__in` with a list,
whose length is part of the SQL, nor a value folded into the SQL text). A value that does not reach the
parameters as one stand-in is an error at the first call, so a test that runs the query catches it.

This module is in spaces, the app every other app may import (DESIGN.md's dependency direction).
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet, sql
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
)
from django.db.models.signals import post_save, pre_save

# Stand-ins no real query carries: one per parameter of the query, distinct from each other.
_KINDS: dict[type, Callable[[int], Any]] = {
    int: lambda i: 1_987_654_301 + i,
    str: lambda i: f"prepared-stand-in-{i}-7c1f",
    date: lambda i: date(1901, 2, 3 + i),
    datetime: lambda i: datetime(1901, 2, 3, 4, 5, 6, 7001 + i, tzinfo=UTC),
}


def _identity(value):
    return value


def _native(connection, statement: str) -> str:
    """The statement as the driver takes it: Django's SQLite cursor turns %s into ? on every execute()."""
    if connection.vendor == "sqlite":
        from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

        return FORMAT_QMARK_REGEX.sub("?", statement).replace("%%", "%")  # what convert_query() does
    return statement


def _run(connection, statement: str, native: str, params, fetch):
    """Execute and fetch. When nothing watches the queries (DEBUG, a test's query counter, an execute
    wrapper), on the driver's cursor with the statement already in its placeholder style, which skips
    Django's per-call rewrite of the SQL and its cursor layers; still inside Django's error translation
    and its refusal to run in a broken transaction. Otherwise through Django's cursor, logged like any."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return fetch(cursor)
    # What Django's cursor() does first: the connection belongs to this thread, and (CONN_HEALTH_CHECKS)
    # a persistent connection that died since the last request is replaced, not used.
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    connection.close_if_health_check_failed()
    with connection.wrap_database_errors:
        connection.ensure_connection()
        cursor = connection.create_cursor()
        try:
            if connection.vendor == "sqlite":
                sqlite3.Cursor.execute(cursor, native, params)  # not the wrapper's execute(): no rewrite
            else:
                cursor.execute(native, params)
            return fetch(cursor)
        finally:
            cursor.close()


@dataclass(frozen=True)
class _Plan:
    sql: str
    native: str
    params: tuple
    slots: tuple[tuple[int, str, Callable[[Any], Any]], ...]  # (position, argument, adapt)
    converters: tuple[tuple[int, tuple, Any], ...]  # (column, converter functions, expression)
    shape: str  # "flat", "tuples", "dicts" or "instances"
    names: tuple[str, ...]
    model: Any


class PreparedQuery:
    """`PreparedQuery(build, member_id=int, day=date)` where `build(member_id=..., day=...)` returns a
    QuerySet of values(), values_list() (flat or not) or plain model instances (no select_related,
    prefetch, annotation or deferred field). `query.fetch(member_id=7, day=d)` returns a list of what that
    QuerySet would yield; `query.first(...)` the first item or None."""

    def __init__(self, build: Callable[..., QuerySet], using: str = DEFAULT_DB_ALIAS, **kinds: type):
        unknown = {name: kind for name, kind in kinds.items() if kind not in _KINDS}
        if unknown:
            raise ImproperlyConfigured(f"PreparedQuery: no stand-in for {unknown}")
        self.build, self.using, self.kinds = build, using, kinds
        self._plans: dict[tuple[str, str], _Plan] = {}

    def _stand_ins(self, first: int) -> dict[str, Any]:
        return {name: _KINDS[kind](first + i) for i, (name, kind) in enumerate(self.kinds.items())}

    def _built(self, connection, stand_ins: dict[str, Any]):
        """(compiler, sql, params, shape, model, names) of the QuerySet built with these stand-ins."""
        queryset = self.build(**stand_ins)
        shape, model, names = self._shape(queryset)
        if shape == "instances":
            queryset = queryset.values_list(*names)
        compiler = queryset.query.get_compiler(connection=connection)
        return (compiler, *compiler.as_sql(), shape, model, names)

    def _compile(self, connection) -> _Plan:
        stand_ins = self._stand_ins(0)
        compiler, sql, params, shape, model, names = self._built(connection, stand_ins)
        ops = connection.ops
        adapters = {
            int: (_identity,),
            str: (_identity,),
            date: (_identity, ops.adapt_datefield_value),
            datetime: (_identity, ops.adapt_datetimefield_value),
        }
        slots, found = [], set()
        for position, param in enumerate(params):
            for name, stand_in in stand_ins.items():
                adapt = next((f for f in adapters[self.kinds[name]] if _same(f(stand_in), param)), None)
                if adapt is not None:
                    slots.append((position, name, adapt))
                    found.add(name)
        missing = set(stand_ins) - found
        if missing:
            raise ImproperlyConfigured(
                f"PreparedQuery: {sorted(missing)} did not reach the SQL as a parameter: {sql}"
            )
        # A second build with other stand-ins must give the same SQL and differ exactly at the slots: a
        # value that also reached the SQL rewritten (a LIKE pattern, arithmetic) would differ elsewhere.
        _compiler, other_sql, other_params, *_rest = self._built(connection, self._stand_ins(len(stand_ins)))
        slots_at = {position for position, _name, _adapt in slots}
        same_shape = other_sql == sql and len(other_params) == len(params)
        if (
            not same_shape
            or {i for i, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b} != slots_at
        ):
            raise ImproperlyConfigured(
                f"PreparedQuery: a value reached the SQL other than as a parameter: {sql}"
            )
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        )
        return _Plan(
            sql, _native(connection, sql), tuple(params), tuple(slots), converters, shape, tuple(names), model
        )

    @staticmethod
    def _shape(queryset: QuerySet) -> tuple[str, Any, list[str]]:
        query, iterable = queryset.query, queryset._iterable_class
        if iterable is ModelIterable:
            if (
                query.select_related
                or queryset._prefetch_related_lookups
                or query.annotation_select
                or query.extra_select
            ):
                raise ImproperlyConfigured("PreparedQuery: model instances without joins or extras")
            model = queryset.model
            return "instances", model, _loaded_attnames(model, *query.deferred_loading)
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        fields = list(queryset._fields or names)
        if iterable in (ValuesListIterable, FlatValuesListIterable) and fields != names:
            raise ImproperlyConfigured(f"PreparedQuery: name the columns in select order: {names}")
        if iterable is FlatValuesListIterable:
            return "flat", None, names
        if iterable is ValuesListIterable:
            return "tuples", None, names
        if iterable is ValuesIterable:
            return "dicts", None, names
        raise ImproperlyConfigured(f"PreparedQuery: unsupported QuerySet kind {iterable.__name__}")

    def plan(self) -> _Plan:
        connection = connections[self.using]
        key = (connection.alias, connection.vendor)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._compile(connection)
        return plan

    def fetch(self, **values) -> list:
        plan, connection = self.plan(), connections[self.using]
        params = list(plan.params)
        for position, name, adapt in plan.slots:
            params[position] = adapt(values[name])
        rows = _run(connection, plan.sql, plan.native, params, _fetchall)
        if plan.converters:
            rows = [_convert(row, plan.converters, connection) for row in rows]
        if plan.shape == "flat":
            return [row[0] for row in rows]
        if plan.shape == "tuples":
            return [tuple(row) for row in rows]
        if plan.shape == "dicts":
            return [dict(zip(plan.names, row, strict=True)) for row in rows]
        return [plan.model.from_db(connection.alias, plan.names, row) for row in rows]

    def first(self, **values):
        rows = self.fetch(**values)
        return rows[0] if rows else None


def _loaded_attnames(model, names: frozenset, defer: bool) -> list[str]:
    """The columns an only()/defer() QuerySet of `model` loads (the primary key always), in field order."""
    opts = model._meta
    try:
        named = {opts.get_field(name).attname for name in names}
    except FieldDoesNotExist:
        raise ImproperlyConfigured(
            f"PreparedQuery: only()/defer() on this model's own fields: {names}"
        ) from None
    return [
        field.attname
        for field in opts.concrete_fields
        if field.primary_key or not names or ((field.attname in named) != defer)
    ]


def _fetchall(cursor) -> list:
    return cursor.fetchall()


def _same(adapted, param) -> bool:
    return type(adapted) is type(param) and adapted == param


def _convert(row, converters, connection) -> list:
    row = list(row)
    for position, functions, expression in converters:
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    native: str
    fields: tuple
    returning_params: tuple


class PreparedInsert:
    """`PreparedInsert(Model).create(**values)` does what `Model.objects.create(**values)` does for a
    model whose primary key the database assigns, with the INSERT's SQL built once per database: only the
    values are prepared on each call. Should the model have save signals receivers (which create() would
    call), or a value be an expression, it is create() itself that runs."""

    def __init__(self, model, using: str = DEFAULT_DB_ALIAS):
        self.model, self.using = model, using
        self._plans: dict[tuple[str, str], _InsertPlan | None] = {}

    def _compile(self, connection, instance) -> _InsertPlan | None:
        opts = self.model._meta
        if not opts.pk.db_returning or opts.db_returning_fields != [opts.pk]:
            return None
        fields = [
            field for field in opts.local_concrete_fields if field is not opts.pk and not field.generated
        ]
        query = sql.InsertQuery(self.model)
        query.insert_values(fields, [instance])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [opts.pk]
        if not connection.features.can_return_columns_from_insert:
            return None
        [(statement, params)] = compiler.as_sql()
        returning_params = tuple(compiler.returning_params)
        if len(params) != len(fields) + len(returning_params):
            return None
        return _InsertPlan(statement, _native(connection, statement), tuple(fields), returning_params)

    def create(self, **values):
        instance = self.model(**values)
        connection = connections[self.using]
        key = (connection.alias, connection.vendor)
        if key not in self._plans:
            self._plans[key] = self._compile(connection, instance)
        plan = self._plans[key]
        if plan is None or pre_save.has_listeners(self.model) or post_save.has_listeners(self.model):
            instance.save(force_insert=True, using=self.using)
            return instance
        instance._prepare_related_fields_for_save(operation_name="save")  # an unsaved related object
        params = []
        for field in plan.fields:
            value = field.pre_save(instance, True)
            if hasattr(value, "resolve_expression"):
                instance.save(force_insert=True, using=self.using)
                return instance
            params.append(field.get_db_prep_save(value, connection=connection))
        params.extend(plan.returning_params)
        with transaction.mark_for_rollback_on_error(self.using):  # as save() does
            [pk] = _run(
                connection,
                plan.sql,
                plan.native,
                params,
                lambda cursor: connection.ops.fetch_returned_insert_columns(cursor, plan.returning_params),
            )
        instance.pk = self.model._meta.pk.to_python(pk)
        instance._state.adding = False
        instance._state.db = self.using
        return instance
