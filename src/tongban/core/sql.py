"""Plain-SQL writes for the few rows written on every request.

The audit chain's append and the exchange's data-use record run on every audited write and
every gateway lookup. Through the ORM each INSERT costs more Python than the database needs
to store it (on PostgreSQL here 0.3–0.6 ms per statement), and every statement is a round
trip. `insert_sql` builds what `Model.save()` would send for a new row of a plain model —
every concrete field prepared by the field itself, `pre_save` applied (auto_now_add) — so
that `core.audit` can send it without the ORM's compiler, or inside one statement with the
audit record about it (docs/adr/0015-hot-path-writes.md).

Not for models with save() overrides, save signals, multi-table inheritance or
many-to-many fields: those go through the ORM.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection, models


def insert_sql(instance: models.Model, *, with_pk: bool = False) -> tuple[str, list[Any]]:
    """(INSERT statement, parameters) for `instance` as a new row. The primary key is left to
    the database unless `with_pk` (then `instance.pk` must be set)."""
    into, values = _insert_into(instance, with_pk=with_pk)
    return f"{into} VALUES ({', '.join(['%s'] * len(values))})", values


def insert_from_sql(
    instance: models.Model, source: str, *, with_pk: bool = False
) -> tuple[str, list[Any]]:
    """`INSERT … SELECT <values> FROM source`: one row per row of `source` (a CTE of the same
    statement), so the row is written only when `source` has one. PostgreSQL types the
    values by their target columns, as it does for VALUES."""
    into, values = _insert_into(instance, with_pk=with_pk)
    return f"{into} SELECT {', '.join(['%s'] * len(values))} FROM {source}", values  # noqa: S608 — `source` is a CTE name of the caller


def _insert_into(instance: models.Model, *, with_pk: bool) -> tuple[str, list[Any]]:
    meta = instance._meta
    if meta.parents:
        raise TypeError(f"plain inserts do not handle multi-table inheritance: {meta.label}")
    fields = [field for field in meta.concrete_fields if with_pk or not field.primary_key]
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    return f"INSERT INTO {quote(str(meta.db_table))} ({columns})", values


def mark_saved(instance: models.Model, pk: Any) -> None:
    """What Model.save() leaves on an instance it inserted."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def row_insert(instance: models.Model) -> Any:
    """INSERT `instance` as a new row in one statement and set its primary key."""
    sql, values = insert_sql(instance)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{sql} RETURNING {connection.ops.quote_name(str(instance._meta.pk.column))}", values
        )
        pk = cursor.fetchone()[0]
    mark_saved(instance, pk)
    return pk


@cache
def pk_sequence(model: type[models.Model]) -> str:
    """PostgreSQL: the name of the sequence behind `model`'s identity primary key, so a key
    can be drawn (nextval) before the row is written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column]
        )
        name = cursor.fetchone()[0]
    if not name:
        raise TypeError(f"{model._meta.label} has no sequence behind its primary key")
    return str(name)
