"""The database's own refusal to change history: triggers on the audit tables.

- Audit events: UPDATE and DELETE (and TRUNCATE on PostgreSQL) are refused.
- The chain head: DELETE (and TRUNCATE) refused, a second row refused, and UPDATE allowed only
  forward, to an event that exists with exactly that hash, which is how `audit.events` advances
  it. Moving the head back over deleted rows therefore needs the triggers gone first.

Installed by migrations 0002 and 0003 on PostgreSQL (plpgsql functions) and SQLite
(``RAISE(ABORT)``); both raise an integrity error, which Django surfaces as ``IntegrityError``.
On PostgreSQL the triggers are ``ENABLE ALWAYS``: a session in ``session_replication_role =
replica`` (which skips ordinary triggers) is refused too. What they cannot stop is the tables'
owner or a superuser dropping or disabling them (``ALTER TABLE ... DISABLE TRIGGER``); the keyed
row hashes and the signed checkpoints (`audit.verify`) are what catch changes made that way, and
``audit_verify`` reports triggers that are missing or disabled.

SQLite rebuilds a table to alter it and drops its triggers with it: a future migration that
alters an audit table must call :func:`install` again.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"
HEAD = "audit_auditchainhead"
MESSAGE = "audit events are append-only"
HEAD_MESSAGE = "the audit chain head only moves forward to an existing event"

# The condition under which the head may change, in SQL both databases read alike. Every SQL
# string here is built from this module's constants only (hence the noqa S608s).
_HEAD_FORWARD = (
    "NEW.id = OLD.id AND NEW.last_id IS NOT NULL AND (OLD.last_id IS NULL OR NEW.last_id > OLD.last_id) "  # noqa: S608
    f"AND EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.last_id AND hash = NEW.last_hash)"
)

_SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": f"BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END",
    "audit_auditevent_no_delete": f"BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END",
    "audit_head_no_delete": f"BEFORE DELETE ON {HEAD} BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}: DELETE refused'); END",
    "audit_head_one_row": (
        f"BEFORE INSERT ON {HEAD} WHEN EXISTS (SELECT 1 FROM {HEAD}) "  # noqa: S608
        f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}: a second head refused'); END"
    ),
    "audit_head_forward_only": (
        f"BEFORE UPDATE ON {HEAD} WHEN NOT ({_HEAD_FORWARD}) "
        f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}: UPDATE refused'); END"
    ),
}

_POSTGRES_TRIGGERS = {
    # name: (table, timing and events, level, function)
    "audit_auditevent_no_change": (TABLE, "BEFORE UPDATE OR DELETE", "ROW", "audit_refuse_change"),
    "audit_auditevent_no_truncate": (TABLE, "BEFORE TRUNCATE", "STATEMENT", "audit_refuse_change"),
    "audit_head_no_delete": (HEAD, "BEFORE DELETE", "ROW", "audit_refuse_change"),
    "audit_head_no_truncate": (HEAD, "BEFORE TRUNCATE", "STATEMENT", "audit_refuse_change"),
    "audit_head_guard": (HEAD, "BEFORE INSERT OR UPDATE", "ROW", "audit_head_guard"),
}
POSTGRES_TRIGGERS = frozenset(_POSTGRES_TRIGGERS)

_POSTGRES_FUNCTIONS = [
    f"""
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END
    $body$
    """,
    f"""
    CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM {HEAD}) THEN
                RAISE EXCEPTION '{HEAD_MESSAGE}: a second head refused' USING ERRCODE = 'restrict_violation';
            END IF;
        ELSIF NOT ({_HEAD_FORWARD}) THEN
            RAISE EXCEPTION '{HEAD_MESSAGE}: UPDATE refused' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END
    $body$
    """,  # noqa: S608
]


def _statements(connection: BaseDatabaseWrapper, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        statements = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, (table, *_) in _POSTGRES_TRIGGERS.items()]
        if not install:
            return [
                *statements,
                "DROP FUNCTION IF EXISTS audit_refuse_change()",
                "DROP FUNCTION IF EXISTS audit_head_guard()",
            ]
        statements += _POSTGRES_FUNCTIONS
        for name, (table, events, level, function) in _POSTGRES_TRIGGERS.items():
            statements += [
                f"CREATE TRIGGER {name} {events} ON {table} FOR EACH {level} EXECUTE FUNCTION {function}()",
                # ALWAYS: fires in replica mode too (session_replication_role = replica).
                f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}",
            ]
        return statements
    if connection.vendor == "sqlite":
        statements = [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS]
        if install:
            statements += [f"CREATE TRIGGER {name} {body}" for name, body in _SQLITE_TRIGGERS.items()]
        return statements
    raise NotImplementedError(f"No append-only guard for {connection.vendor}")


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            # No params: the plpgsql bodies hold '%' placeholders of their own.
            cursor.execute(sql)


def install(connection: BaseDatabaseWrapper) -> None:
    """Make the database refuse changes to audit history (see the module docstring)."""
    _run(connection, _statements(connection, install=True))


def remove(connection: BaseDatabaseWrapper) -> None:
    _run(connection, _statements(connection, install=False))


def installed(connection: BaseDatabaseWrapper) -> bool:
    """Whether every guard trigger is in place (and, on PostgreSQL, enabled ALWAYS)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid IN (%s::regclass, %s::regclass) "
                "AND NOT tgisinternal AND tgenabled = 'A'",
                [TABLE, HEAD],
            )
            return POSTGRES_TRIGGERS <= {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)", [TABLE, HEAD])
        return set(_SQLITE_TRIGGERS) <= {row[0] for row in cursor.fetchall()}
