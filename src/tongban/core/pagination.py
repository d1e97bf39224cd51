"""A queryset seen through a mapping function, so list endpoints paginate in the database
and turn only the page they return into dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet

T = TypeVar("T")


class MappedQuerySet(Generic[T]):
    def __init__(self, queryset: QuerySet[Any], mapping: Callable[[Any], T]) -> None:
        self.queryset = queryset
        self.mapping = mapping

    def all(self) -> MappedQuerySet[T]:
        return self

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[T]:
        return [self.mapping(row) for row in self.queryset[window]]
