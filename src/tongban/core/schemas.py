"""Schemas shared by every router: the one error shape."""

from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    """Every 4xx/5xx answer: a stable English code and a Chinese message."""

    code: str
    message: str
    fields: dict[str, str] = {}


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(statuses, ErrorOut)
