"""Inserting many new rows at once: the sync's mirrors and history, and the audit trail.

`insert(objs)` writes unsaved model instances with the values ``bulk_create`` would send (each
field's ``pre_save`` then ``get_db_prep_save``) but without building SQL per batch: PostgreSQL
gets ``COPY ... FROM STDIN`` (psycopg formats rows in C), other databases one ``INSERT`` run by
the driver's ``executemany`` (SQLite loops in C). Django 5.2's ``bulk_create`` compiles a statement
per batch (on SQLite 999 parameters: ~45 rows of a handshake) and on PostgreSQL sends arrays that
psycopg escapes value by value in Python; for a page of handshakes that is most of the sync's
CPU. Neither path returns ids: a caller that needs them names a unique field to look them up by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.db import connections, models, router


def insert(
    objs: Sequence[models.Model],
    *,
    using: str | None = None,
    ids_by: str = "",
    scope: Mapping[str, Any] | None = None,
) -> None:
    """Insert `objs` (unsaved instances of one model) in the caller's transaction.

    With `ids_by` (a unique field, within `scope` if given), every ``obj.pk`` is set afterwards:
    one lookup per 500 rows.
    """
    if not objs:
        return
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key and field.db_returning)]
    rows = ([field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields] for obj in objs)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(cast(str, field.column)) for field in fields)  # concrete: every one has a column
    table = f"{quote(meta.db_table)} ({columns})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's error classes (IntegrityError, ...) as for any query, though COPY goes to psycopg directly.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            # Names from the model's meta, quoted; every value is a parameter.
            cursor.executemany(f"INSERT INTO {table} VALUES ({placeholders})", list(rows))  # noqa: S608
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    if ids_by:
        keys = [getattr(obj, ids_by) for obj in objs]
        found: dict[Any, int] = {}
        manager = model._default_manager.using(alias).filter(**(scope or {}))
        for start in range(0, len(keys), 500):
            found.update(manager.filter(**{f"{ids_by}__in": keys[start : start + 500]}).values_list(ids_by, "pk"))
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = found[key]
