"""Set-based inserts for the renewal job: multi-row INSERTs, a batch of rows per statement.

QuerySet.bulk_create compiles every value of every row through the field's full preparation path,
which for the renewal job's 100,000 invoices, lines, periods and payments cost several times the
database's own work. Here each column's adapter is chosen once per table, the instants Django would set
(auto_now / auto_now_add) are taken once per batch, and the driver binds the rows. Objects are plain
unsaved model instances (or dicts), built and validated by the caller as for bulk_create; no signals are sent
(bulk_create sends none either).
"""

from collections.abc import Callable, Sequence

from django.db import connection, models
from django.utils import timezone


def _adapter(field: models.Field) -> Callable[[object], object] | None:
    ops = connection.ops
    if isinstance(field, models.JSONField):
        # Snapshots shared by many rows (a space's seller details) are encoded once.
        encoded: dict[int, tuple[object, object]] = {}

        def adapt_json(value):
            if value is None:
                return None
            hit = encoded.get(id(value))
            if hit is None or hit[0] is not value:
                hit = encoded[id(value)] = (value, ops.adapt_json_value(value, field.encoder))
            return hit[1]

        return adapt_json
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    # Strings, integers, booleans, dates and Decimals are bound as they are by both drivers (Django
    # registers SQLite adapters for date and Decimal).
    return None


# Bound parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
MAX_PARAMS = 30_000


def _execute(meta, fields, rows: list[tuple]) -> None:
    """COPY on PostgreSQL; on SQLite, multi-row INSERT ... VALUES (...), (...) in batches."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    if connection.vendor == "postgresql":
        # COPY: the rows stream in one command, typed by the driver, with no SQL text to build.
        sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608 - quoted names, bound values
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_batch = max(1, MAX_PARAMS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_batch):
            batch = rows[start : start + per_batch]
            cursor.execute(
                head + ", ".join([row_sql] * len(batch)), [value for row in batch for value in row]
            )


def _columns(model: type[models.Model]) -> tuple[list[models.Field], set[str]]:
    """The fields an INSERT writes (all but the primary key), and those Django sets to now on insert."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    now_fields = {
        field.attname
        for field in fields
        if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add)
    }
    return fields, now_fields


def insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERTs `objs` (unsaved instances of `model`), without reading back their primary keys."""
    if not objs:
        return
    fields, now_fields = _columns(model)
    now = timezone.now()
    for obj in objs:
        for attname in now_fields:
            setattr(obj, attname, now)
    adapters = [(field.attname, _adapter(field)) for field in fields]
    rows = [
        tuple(adapt(getattr(obj, attname)) if adapt else getattr(obj, attname) for attname, adapt in adapters)
        for obj in objs
    ]
    _execute(model._meta, fields, rows)
    for obj in objs:
        obj._state.db = connection.alias


def insert_dicts(model: type[models.Model], rows: Sequence[dict]) -> None:
    """INSERTs rows given as {attname: value} (a field left out takes its default), without building
    model instances: for the tables whose new rows nobody reads back in the same run."""
    if not rows:
        return
    fields, now_fields = _columns(model)
    now = timezone.now()
    adapters = [
        (field.attname, _adapter(field), now if field.attname in now_fields else field.get_default())
        for field in fields
    ]
    values = [
        tuple(
            adapt(row.get(attname, default)) if adapt else row.get(attname, default)
            for attname, adapt, default in adapters
        )
        for row in rows
    ]
    _execute(model._meta, fields, values)
