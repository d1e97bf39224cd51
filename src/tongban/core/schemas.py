"""Schemas shared by every router: the one error shape and bounded pagination."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

# Text a client sends is stored or matched in the database; PostgreSQL refuses NUL in text
# (a server error if it got that far), so inputs refuse it up front with a 422.
NO_NUL = r"^[^\x00]*$"

# A page is at most this many rows, and an offset beyond this is refused (422) rather than
# handed to the database, where an out-of-range integer is a server error.
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000


class ErrorOut(Schema):
    """Every 4xx/5xx answer: a stable English code and a Chinese message."""

    code: str
    message: str
    fields: dict[str, str] = {}


def text(max_length: int, default: Any = ..., **extra: Any) -> Any:
    """A bounded, NUL-free text field (body or query schema)."""
    return Field(default, max_length=max_length, pattern=NO_NUL, **extra)


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an operation documents; 503 (database down, or load shed) always."""
    return dict.fromkeys((*statuses, 503), ErrorOut)


class Pagination(LimitOffsetPagination):
    """limit/offset pagination with both numbers bounded, so bad values answer 422."""

    class Input(Schema):
        limit: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="每页条数")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="跳过条数")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE_SIZE, **kwargs)
