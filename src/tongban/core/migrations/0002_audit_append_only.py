"""The audit table is append-only for the application's database role.

PostgreSQL: UPDATE and DELETE are refused by a trigger. SQLite (the embedded single-user
default): UPDATE is refused; DELETE stays possible because the test framework's flush needs
it, and a deleted record is reported by `tongban audit verify` (sequence gap / truncation).
Only someone able to disable triggers (a DBA) can still edit rows — and verify detects that.
TRUNCATE is left to the DBA for the same reason (test flushes); verify reports it."""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER core_auditrecord_no_update BEFORE UPDATE ON core_auditrecord
       BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditrecord_no_update",
]
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION core_auditrecord_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'insufficient_privilege'; END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER core_auditrecord_append_only BEFORE UPDATE OR DELETE
       ON core_auditrecord FOR EACH STATEMENT EXECUTE FUNCTION core_auditrecord_append_only()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditrecord_append_only ON core_auditrecord",
    "DROP FUNCTION IF EXISTS core_auditrecord_append_only()",
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    statements = POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
