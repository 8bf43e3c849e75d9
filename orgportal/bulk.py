"""Inserting many new rows at once: the sync's mirrors and history, and the audit trail.

`insert(objs)` writes unsaved model instances. On PostgreSQL it streams them with ``COPY ... FROM
STDIN`` (psycopg formats rows in C; Django's ``bulk_create`` builds one statement of arrays that
psycopg escapes value by value in Python, several times the CPU for a page of handshakes). The
values are what ``bulk_create`` would send: each field's ``pre_save`` then ``get_db_prep_save``.
COPY returns no ids: a caller that needs them names a unique field to look them up by. Elsewhere
it is ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models, router


def insert(
    objs: Sequence[models.Model],
    *,
    using: str | None = None,
    batch_size: int = 500,
    ids_by: str = "",
    scope: Mapping[str, Any] | None = None,
) -> None:
    """Insert `objs` (unsaved instances of one model) in the caller's transaction.

    With `ids_by` (a unique field, within `scope` if given), every ``obj.pk`` is set afterwards:
    one lookup per 500 rows where the insert did not return them.
    """
    if not objs:
        return
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.using(alias).bulk_create(objs, batch_size=batch_size)
    else:
        _copy(connection, model, objs)
        for obj in objs:
            obj._state.adding = False
            obj._state.db = alias
    missing = [obj for obj in objs if obj.pk is None] if ids_by else []
    if missing:
        keys = [getattr(obj, ids_by) for obj in missing]
        found: dict[Any, int] = {}
        manager = model._default_manager.using(alias).filter(**(scope or {}))
        for start in range(0, len(keys), 500):
            found.update(manager.filter(**{f"{ids_by}__in": keys[start : start + 500]}).values_list(ids_by, "pk"))
        for obj, key in zip(missing, keys, strict=True):
            obj.pk = found[key]


def _copy(connection: Any, model: type[models.Model], objs: Sequence[models.Model]) -> None:
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key and field.db_returning)]
    quote = connection.ops.quote_name
    statement = f"COPY {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
    # Django's error classes (IntegrityError, ...) as for any query, though COPY goes to psycopg directly.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row([field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields])
