"""The database's own refusal to change history: triggers that reject UPDATE and DELETE on audit events.

Installed by migration 0002 on PostgreSQL (a plpgsql function, also refusing TRUNCATE) and SQLite
(``RAISE(ABORT)``). Both raise an integrity error, which Django surfaces as ``IntegrityError``.
SQLite rebuilds a table to alter it and drops its triggers with it: a future migration that
alters ``AuditEvent`` must call :func:`install` again. ``audit_verify`` checks they are present.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"

_SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": "UPDATE",
    "audit_auditevent_no_delete": "DELETE",
}

_POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END
    $body$
    """,
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_change ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_change BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()""",
]
_POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]
POSTGRES_TRIGGERS = frozenset({"audit_auditevent_no_change", "audit_auditevent_no_truncate"})


def _statements(connection: BaseDatabaseWrapper, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _POSTGRES_INSTALL if install else _POSTGRES_REMOVE
    if connection.vendor == "sqlite":
        statements = [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS]
        if install:
            statements += [
                f"CREATE TRIGGER {name} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {operation} refused'); END"
                for name, operation in _SQLITE_TRIGGERS.items()
            ]
        return statements
    raise NotImplementedError(f"No append-only guard for {connection.vendor}")


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            # No params: the plpgsql body holds '%' placeholders of its own.
            cursor.execute(sql)


def install(connection: BaseDatabaseWrapper) -> None:
    """Make the database refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of audit events."""
    _run(connection, _statements(connection, install=True))


def remove(connection: BaseDatabaseWrapper) -> None:
    _run(connection, _statements(connection, install=False))


def installed(connection: BaseDatabaseWrapper) -> bool:
    """Whether every guard trigger is in place."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
                [TABLE],
            )
            return POSTGRES_TRIGGERS <= {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        return set(_SQLITE_TRIGGERS) <= {row[0] for row in cursor.fetchall()}
