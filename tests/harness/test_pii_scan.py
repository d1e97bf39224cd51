"""PII leak scan (issue 3, item 3).

With synthetic valid ID numbers and phone numbers in the data, every endpoint of the
authorization matrix is called as every role, plus error pages; each response body and every
log line written meanwhile is searched for any person's unmasked ID number or phone number.
An unmasked value may appear only to its data subject, or to a handler of the case on the
case's detail view (which is audited); never in a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tongban.identity.models import Citizen

from .test_authz_matrix import API, ROLES, WEB, api_request, prepare, web_request
from .test_authz_matrix import world as matrix_world  # noqa: F401 — a fixture

pytestmark = [pytest.mark.harness, pytest.mark.django_db]

# Where a handler legitimately sees the applicant's full data (audited as case.view_unmasked).
HANDLER_VIEWS = {
    "/api/v1/cases/{case_id}",
    "/api/v1/cases/{case_id}/transitions",
    "web:case_detail",
}
HANDLERS = {"clerk", "reviewer"}


def _subjects() -> dict[str, str]:
    """Unmasked value → the citizen user it belongs to (as role lookup key)."""
    values: dict[str, str] = {}
    for citizen in Citizen.objects.all():
        values[citizen.id_number] = str(citizen.user_id)
        values[citizen.phone] = str(citizen.user_id)
    return values


def _leaks(text: str, subjects: dict[str, str]) -> set[str]:
    return {value for value in subjects if value in text}


@pytest.mark.parametrize("role", ROLES)
def test_no_unmasked_personal_data_outside_its_subject_and_handlers(
    matrix_world: dict[str, Any],  # noqa: F811 — the imported fixture
    role: str,
    caplog: Any,
) -> None:
    world = matrix_world
    for endpoint in ("assist", "/ledger/", "licenses", "exchange", "cross-region", "bundle"):
        prepare(world, endpoint)  # a log, a licence, shared data, a cross-region application
    caplog.set_level(logging.DEBUG)
    subjects = _subjects()
    viewer = world["actors"].get(role)
    own = {
        value
        for value, owner in subjects.items()
        if viewer is not None and owner == str(viewer.user.pk)
    }
    owner_data = {
        world["actors"]["owner"].citizen.id_number,
        world["actors"]["owner"].citizen.phone,
    }
    findings: list[str] = []
    cells = [("api", method, path) for method, path in API] + [
        ("web", method, name) for method, name in WEB
    ]
    for kind, method, endpoint in cells:
        if "resubmi" in endpoint or endpoint == "web:logout":
            # Resubmission needs the 补正 state (the matrix covers it); logout ends the session.
            continue
        response = (api_request if kind == "api" else web_request)(world, method, endpoint, role)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode(errors="replace")
        leaked = _leaks(body, subjects) - own
        if role in HANDLERS and endpoint in HANDLER_VIEWS:
            leaked -= owner_data
        if leaked:
            findings.append(f"{method} {endpoint} as {role}: {sorted(leaked)}")
    for url in ("/no-such-page/", f"/me/cases/{world['case'].pk}x/", "/api/v1/nope"):
        from django.test import Client

        body = Client().get(url).content.decode(errors="replace")
        if _leaks(body, subjects):
            findings.append(f"error page {url}")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    if _leaks(logged, subjects):
        findings.append(f"log lines: {sorted(_leaks(logged, subjects))}")
    assert not findings, "\n".join(findings)
