"""One way to keep a state: django-fsm with `protected=True` (ADR 0020).

A protected state field refuses direct assignment, which is the point — states move only by
transitions — but it also refuses Django's own `refresh_from_db`. `StateMachineMixin` lets a
re-read through, and nothing else."""

from __future__ import annotations

from typing import Any

from django_fsm import FSMField


class StateMachineMixin:
    """For models with a protected FSMField: `refresh_from_db` works again."""

    def refresh_from_db(
        self, using: Any = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        for field in self._meta.concrete_fields:  # type: ignore[attr-defined]
            if isinstance(field, FSMField) and field.protected:
                if fields is None or field.name in fields or field.attname in fields:
                    self.__dict__.pop(field.attname, None)
        super().refresh_from_db(  # type: ignore[misc]
            using=using, fields=fields, from_queryset=from_queryset
        )
