"""Test helper: edit the audit table as a DBA would — with the append-only triggers off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def as_dba() -> Iterator[None]:
    from importlib import import_module

    guard = import_module("tongban.core.migrations.0002_audit_append_only")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditrecord DISABLE TRIGGER USER")
        else:
            for statement in guard.SQLITE_REVERSE:
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE core_auditrecord ENABLE TRIGGER USER")
            else:
                for statement in guard.SQLITE:
                    cursor.execute(statement)
