"""Domain errors: a stable English code for machines and a Chinese message for people."""

from __future__ import annotations


class DomainError(Exception):
    """A refused request. `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, code: str, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class InvalidInput(DomainError):
    status = 422
