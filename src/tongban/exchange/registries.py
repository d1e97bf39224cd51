"""Registries behind one adapter interface.

`RegistryAdapter.fetch(subject, elements)` answers the named elements of one subject (a
resident ID number or a USCC) with the time the data was last updated. Three kinds:
- `DatabaseRegistry`: the built-in registries stored in this database (population, legal
  entities, social security);
- `HttpRegistry`: a remote registry system over HTTP(S), with a timeout, retries with
  exponential backoff (lookups are idempotent reads) and a clear 503/504 when it is down;
- `ProviderRegistry`: answers from whatever provider an outer app registered (the licence
  library is filled by the licences app); without a provider it is unavailable, never faked.

Their errors (RegistryUnavailable, RegistryTimeout) are named in errors.py, importable here too.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from django.db import models
from django.utils.dateparse import parse_datetime

from tongban.core.errors import DomainError

from . import errors
from .conf import exchange_setting
from .errors import RegistryTimeout as RegistryTimeout
from .errors import RegistryUnavailable as RegistryUnavailable
from .models import (
    LegalEntityRecord,
    PopulationRecord,
    Registry,
    RegistryKind,
    SocialSecurityRecord,
)


@dataclass(frozen=True)
class RegistryAnswer:
    found: bool
    values: dict[str, Any]
    updated_at: datetime | None = None


class RegistryAdapter(Protocol):
    def fetch(self, subject: str, elements: Sequence[str]) -> RegistryAnswer: ...


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


class DatabaseRegistry:
    """A registry kept in this database: element code → model field."""

    def __init__(
        self, model: type[models.Model], key_field: str, fields: dict[str, str], name: str
    ) -> None:
        self.model = model
        self.key_field = key_field
        self.fields = fields
        self.name = name

    def fetch(self, subject: str, elements: Sequence[str]) -> RegistryAnswer:
        columns = [self.fields[code] for code in elements]
        row = (
            self.model._default_manager.filter(**{self.key_field: subject})
            .values(*columns, "updated_at")
            .first()
        )
        if row is None:
            return RegistryAnswer(found=False, values={})
        values = {code: _plain(row[self.fields[code]]) for code in elements}
        return RegistryAnswer(found=True, values=values, updated_at=row["updated_at"])


BUILT_IN: dict[str, DatabaseRegistry] = {
    "population": DatabaseRegistry(
        PopulationRecord,
        "id_number",
        {
            "person.name": "name",
            "person.id_number": "id_number",
            "person.birth_date": "birth_date",
            "person.gender": "gender",
            "person.household_address": "household_address",
            "person.marital_status": "marital_status",
        },
        "人口库",
    ),
    "legal_entity": DatabaseRegistry(
        LegalEntityRecord,
        "uscc",
        {
            "enterprise.uscc": "uscc",
            "enterprise.name": "name",
            "enterprise.legal_representative": "legal_representative",
            "enterprise.registered_capital": "registered_capital",
            "enterprise.industry_code": "industry_code",
            "enterprise.status": "status",
        },
        "法人库",
    ),
    "social_security": DatabaseRegistry(
        SocialSecurityRecord,
        "id_number",
        {"person.social_security_status": "status", "person.insured_since": "insured_since"},
        "社保库",
    ),
}


# ---------------------------------------------------------------- provider (licence library)

Provider = Callable[[str, Sequence[str]], RegistryAnswer]
_providers: dict[str, Provider] = {}


def provider_register(registry_code: str, provider: Provider) -> None:
    """An outer app (the licences app for `license_library`) plugs its answers in here."""
    _providers[registry_code] = provider


def provider_unregister(registry_code: str) -> None:
    _providers.pop(registry_code, None)


class ProviderRegistry:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def fetch(self, subject: str, elements: Sequence[str]) -> RegistryAnswer:
        provider = _providers.get(self.registry.code)
        if provider is None:
            raise errors.REGISTRY_NOT_CONNECTED.error(registry=self.registry.name)
        return provider(subject, elements)


# ---------------------------------------------------------------- remote registries over HTTP


class _Retryable(Exception):
    def __init__(self, timed_out: bool) -> None:
        self.timed_out = timed_out


class HttpRegistry:
    """GET {base_url}/subjects/{subject}?elements=a,b → {"found", "updated_at", "values"}.

    404 means the subject is not in the registry. Timeouts, refused connections and 5xx answers
    are retried; when every attempt fails the caller gets RegistryTimeout (504) if the last
    attempt timed out, else RegistryUnavailable (503). A malformed answer is not retried.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = float(
            timeout if timeout is not None else exchange_setting("HTTP_TIMEOUT_SECONDS")
        )
        self.retries = int(retries if retries is not None else exchange_setting("HTTP_RETRIES"))
        self.backoff = float(
            backoff if backoff is not None else exchange_setting("HTTP_BACKOFF_SECONDS")
        )
        self.sleep = sleep
        self.attempts = 0  # made by the last fetch (for tests and logs)

    def _url(self, subject: str, elements: Sequence[str]) -> str:
        query = urllib.parse.urlencode({"elements": ",".join(elements)})
        return f"{self.base_url}/subjects/{urllib.parse.quote(subject, safe='')}?{query}"

    def _once(self, url: str) -> RegistryAnswer:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 — base_url is configured by administrators, http(s) only
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(1_000_000)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return RegistryAnswer(found=False, values={})
            if error.code >= 500:
                raise _Retryable(timed_out=False) from error
            raise self._bad_answer(f"HTTP {error.code}") from error
        except TimeoutError as error:
            raise _Retryable(timed_out=True) from error
        except urllib.error.URLError as error:
            timed_out = isinstance(error.reason, TimeoutError | socket.timeout)
            raise _Retryable(timed_out=timed_out) from error
        except OSError as error:  # connection reset mid-answer
            raise _Retryable(timed_out=False) from error
        return self._parse(body)

    def _bad_answer(self, detail: str) -> DomainError:
        return errors.REGISTRY_BAD_ANSWER.error(registry=self.name, detail=detail)

    def _parse(self, body: bytes) -> RegistryAnswer:
        try:
            document = json.loads(body)
            found = bool(document["found"])
            values = document.get("values") or {}
            updated = document.get("updated_at")
        except (ValueError, KeyError, TypeError) as error:
            raise self._bad_answer("JSON") from error
        if not isinstance(values, dict):
            raise self._bad_answer("values")
        updated_at = parse_datetime(updated) if isinstance(updated, str) else None
        return RegistryAnswer(found=found, values=values, updated_at=updated_at)

    def fetch(self, subject: str, elements: Sequence[str]) -> RegistryAnswer:
        url = self._url(subject, elements)
        self.attempts = 0
        last_timed_out = False
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            self.attempts += 1
            try:
                answer = self._once(url)
            except _Retryable as failure:
                last_timed_out = failure.timed_out
                continue
            return RegistryAnswer(
                answer.found,
                {code: answer.values.get(code) for code in elements} if answer.found else {},
                answer.updated_at,
            )
        if last_timed_out:
            raise errors.REGISTRY_TIMEOUT.error(registry=self.name, retries=self.retries)
        raise errors.REGISTRY_UNAVAILABLE.error(registry=self.name, retries=self.retries)


def adapter_for(registry: Registry) -> RegistryAdapter:
    if registry.kind == RegistryKind.HTTP:
        return HttpRegistry(registry.name, registry.base_url)
    if registry.kind == RegistryKind.PROVIDER:
        return ProviderRegistry(registry)
    adapter = BUILT_IN.get(registry.code)
    if adapter is None:
        raise errors.REGISTRY_NOT_CONNECTED.error(registry=registry.name)
    return adapter
