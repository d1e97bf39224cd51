"""API fuzzing (issue 3, item 2): schemathesis against /api/openapi.json, in-process.

`test_api_fuzz` sends every operation of the OpenAPI document at least 200 generated requests
(schemathesis's coverage phase, then Hypothesis fuzzing with valid and invalid data, from a
fixed seed) through Django's WSGI handler, against a seeded world: a citizen, a clerk and a
reviewer of the owning department, a published item and submitted cases. Each request carries
the token an ordinary caller of the operation would have — a citizen's for /applications, a
clerk's or reviewer's for /cases — and now and then somebody else's or none; some requests are
pointed at the real item and cases, so the fuzzer reaches the business logic and its
refusals, not only 401 and 404. Every response must pass `CHECKS`: no 5xx, a documented status
code and content type, a body and headers that match the documented schema.

`test_api_stateful` follows the links schemathesis infers from the document (submit an
application → read it → resubmit; list my cases → a clerk reads the case → transitions), a
bounded number of scenarios.

`test_fuzz_figures` then checks (and prints, with -s) how many requests each operation got and
which statuses came back.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tongban.cases.submission.services import UploadedMaterial, application_submit, case_transition
from tongban.identity.services import api_token_issue
from tongban.ledger.services import checkpoint_publish, log_append

from .. import factories as f

pytestmark = [pytest.mark.harness, pytest.mark.django_db]

MAX_EXAMPLES = 200  # per operation, fuzzing phase (the coverage phase adds its own)
STATEFUL_SCENARIOS = 60
STATEFUL_STEPS = 8
SEED = 20260303
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HEALTH_CHECKS = [
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
    HealthCheck.function_scoped_fixture,
]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
    }
)
# Loaded once at import: the document is served without touching the database.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler(), config=CONFIG)

# Figures: responses per operation ("METHOD /path") and their statuses, for test_fuzz_figures.
STATUSES: dict[str, Counter[int]] = defaultdict(Counter)
STATEFUL_STATUSES: dict[str, Counter[int]] = defaultdict(Counter)

INTAKE_ACTIONS = ["accept", "reject", "request_correction"]
DECISION_ACTIONS = ["start_review", "approve", "deny", "complete"]
ACTIONS = INTAKE_ACTIONS + DECISION_ACTIONS
# Who calls, in turn: mostly the intended caller, sometimes another role or nobody.
APPLICANT_CALLERS = ["citizen"] * 6 + ["other_citizen", "clerk", None, "citizen"]
STAFF_CALLERS = ["clerk", "reviewer"] * 3 + ["other_department_staff", "citizen", None, "reviewer"]
CALLERS = ("citizen", "other_citizen", "clerk", "reviewer", "other_department_staff")
# The usual caller of the other apps' operations (one request in five goes without a token).
CALLER_BY_PREFIX = (
    ("/api/v1/cross-region/received", "clerk"),
    ("/api/v1/cross-region", "citizen"),
    ("/api/v1/licenses", "citizen"),
    ("/api/v1/exchange/consents", "citizen"),
    ("/api/v1/exchange/data-use", "citizen"),
    ("/api/v1/exchange/prefill", "citizen"),
    ("/api/v1/exchange/grants", "reviewer"),
    ("/api/v1/ledger/witness", "reviewer"),
    ("/api/v1/collaboration", "reviewer"),
    ("/api/v1/supervision", "reviewer"),
    ("/api/v1/bundle-cases", "citizen"),
)
FUZZ_LOG = "fuzz"
# Operations fuzzed for 5xx and schema conformance that this world cannot make succeed: they
# need a credential no account holds (a region's signature, a department's system key, the
# security role) or an object the fuzz world does not create (a licence, an alert, another
# region's checkpoint). Their success paths are tested in their own test modules.
SUCCESS_NOT_EXPECTED = {
    "POST /api/v1/interchange/messages",  # tests/test_interchange.py
    "POST /api/v1/cross-region/applications",  # needs another region's item: test_crossregion
    "GET /api/v1/cross-region/applications/{received_id}",
    "POST /api/v1/cross-region/received/{received_id}/check",
    "POST /api/v1/cross-region/joint-applications",  # needs other regions' items
    "POST /api/v1/cross-region/applications/{received_id}/resubmission",  # and a 补正 there
    "POST /api/v1/exchange/lookups",  # tests/test_exchange.py
    "POST /api/v1/exchange/verifications",
    "GET /api/v1/exchange/alerts",
    "POST /api/v1/exchange/alerts/{alert_id}/acknowledgement",
    "GET /api/v1/exchange/availability",
    "POST /api/v1/exchange/grants",
    "POST /api/v1/exchange/grants/{grant_id}/decision",
    "POST /api/v1/exchange/consents",
    "POST /api/v1/exchange/consents/{consent_id}/revocation",
    "POST /api/v1/exchange/prefill",
    "POST /api/v1/ledger/witness",  # tests/test_ledger_witness.py
    "GET /api/v1/licenses/{license_id}",  # tests/test_licenses.py
    "GET /api/v1/licenses/{license_id}/file",
    "POST /api/v1/licenses/{license_id}/presentations",
    "POST /api/v1/licenses/{license_id}/suspension",
    "POST /api/v1/licenses/{license_id}/reinstatement",
    "POST /api/v1/licenses/{license_id}/revocation",
    "POST /api/v1/licenses/verifications",
    # tests/test_supervision.py: need an assist task, a case of the caller's department or an
    # alert, which the fuzz world does not create
    "POST /api/v1/collaboration/cases/{case_id}/assist-tasks",
    "GET /api/v1/collaboration/cases/{case_id}/assist-tasks",
    "GET /api/v1/collaboration/cases/{case_id}/handoffs",
    "POST /api/v1/collaboration/cases/{case_id}/transfer",
    "POST /api/v1/collaboration/cases/{case_id}/transfer/pickup",
    "GET /api/v1/collaboration/assist-tasks/{task_id}",
    "POST /api/v1/collaboration/assist-tasks/{task_id}/pickup",
    "POST /api/v1/collaboration/assist-tasks/{task_id}/answer",
    "POST /api/v1/supervision/alerts/{alert_id}/escalation",
    # tests/test_bundles.py: need a bundle case or a merged form's materials, which the fuzz
    # world does not create (it publishes a bundle for the guide, FUZZ_BUNDLE)
    "POST /api/v1/bundle-cases",
    "GET /api/v1/bundle-cases/{bundle_case_id}",
    "POST /api/v1/bundle-cases/{bundle_case_id}/resubmission",
}


def _submit(world: dict[str, Any]) -> Any:
    return application_submit(
        actor=world["citizen"],
        item_code=world["item"].implementation_code,
        form_data=dict(f.VALID_FORM),
        materials=[UploadedMaterial("M01", "id.pdf", f.PDF)],
    ).case


@pytest.fixture
def fuzz_world(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The shared world, three submitted cases, one awaiting correction, and a token per role.

    Django's per-request closing of old connections is switched off (as django.test.Client
    does) so that every request runs inside the test's transaction.
    """
    cases = [_submit(world) for _ in range(3)]
    correction = _submit(world)
    case_transition(
        actor=world["clerk"],
        case_id=correction.pk,
        action="request_correction",
        comment="请补交结婚证",
    )
    tokens = {name: "Bearer " + api_token_issue(user=world[name].user)[0] for name in CALLERS}
    for number in range(5):
        log_append(log_name=FUZZ_LOG, entry=f"fuzz entry {number}".encode())
    checkpoint_publish(log_name=FUZZ_LOG)
    _publish_bundle(world)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {**world, "cases": cases, "correction": correction, "tokens": tokens}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


FUZZ_BUNDLE = "fuzz_bundle"


def _publish_bundle(world: dict[str, Any]) -> None:
    """A published bundle with a situation question, so the guide and its answers
    (GET /api/v1/catalog/bundles/{code}?answer=…) are fuzzed past the 404."""
    from tongban.catalog.bundles import QuestionSpec, bundle_save
    from tongban.catalog.services import item_publish

    second = f.item(f.department("440100", "广州市民政局"), name="婚姻登记记录证明")
    item_publish(item=second, actor="fuzz")
    bundle_save(
        code=FUZZ_BUNDLE,
        name="模糊测试一件事",
        division=world["item"].division,
        lead_department=world["department"],
        items=[world["item"], second],
        dependencies=[],
        actor="fuzz",
        questions=[QuestionSpec("married", "是否已婚？")],
        conditions=[{}, {"married": ["是"]}],
    )


def _valid_application(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_code": world["item"].implementation_code,
        "form": dict(f.VALID_FORM),
        "materials": [
            {"material_code": "M01", "filename": "id.pdf", "content_base64": f.b64(f.PDF)}
        ],
    }


def _transition_turn(case: Any, world: dict[str, Any], turn: int, *, retarget: bool) -> str:
    """A real action, sent by the role that may take it; with `retarget`, on a seeded case.

    Each seeded case walks the actions in its own rotation, so between them they are
    accepted, rejected, sent back for correction, reviewed, approved and completed.
    """
    index = turn % len(world["cases"])
    if retarget:
        case.path_parameters["case_id"] = str(world["cases"][index].pk)
    action = ACTIONS[(turn // len(world["cases"]) + index) % len(ACTIONS)]
    case.body["action"] = action
    if not str(case.body.get("comment", "")).strip():
        case.body["comment"] = "理由：材料不全"
    if turn % 2 == 0:
        case.body.pop("expected_version", None)
    return "clerk" if action in INTAKE_ACTIONS else "reviewer"


def _prepare(case: Any, world: dict[str, Any], turn: int) -> str | None:
    """Point some requests at real objects; return the caller (a key of world["tokens"])."""
    path = case.operation.path
    method = case.operation.method.upper()
    params = case.path_parameters if case.path_parameters is not None else {}
    body = case.body if isinstance(case.body, dict) else None
    target = world["cases"][turn % len(world["cases"])]
    if path.startswith("/api/v1/applications"):
        if "resubmission" in path and turn % 2 == 0:
            target = world["correction"]
        if turn % 2 == 0 and "application_id" in params:
            params["application_id"] = str(target.application_id)
        if turn % 2 == 0 and "case_id" in params:
            params["case_id"] = str(target.pk)
        if path == "/api/v1/applications" and method == "POST" and body is not None:
            if turn % 6 == 0:
                body.update(_valid_application(world))
            elif turn % 3 == 0:
                body["item_code"] = world["item"].implementation_code
        if "resubmission" in path and body is not None and turn % 4 == 0:
            body["form"], body["materials"] = dict(f.VALID_FORM), []
        return APPLICANT_CALLERS[turn % len(APPLICANT_CALLERS)]
    if path.startswith("/api/v1/cases"):
        if turn % 2 == 0 and "case_id" in params:
            params["case_id"] = str(target.pk)
        if path.endswith("/transitions") and body is not None and turn % 3 == 0:
            return _transition_turn(case, world, turn // 3, retarget=True)
        return STAFF_CALLERS[turn % len(STAFF_CALLERS)]
    if path == "/api/v1/auth/token" and body is not None and turn % 4 == 0:
        body["username"] = world["citizen"].user.username
        if turn % 8 == 0:
            body["password"] = f.PASSWORD
    elif path == "/api/v1/catalog/items/{code}" and turn % 2 == 0 and "code" in params:
        params["code"] = world["item"].implementation_code
    elif path == "/api/v1/catalog/bundles/{code}" and turn % 2 == 0 and "code" in params:
        params["code"] = FUZZ_BUNDLE
    elif path.startswith("/api/v1/ledger/logs/") and turn % 2 == 0 and "name" in params:
        params["name"] = FUZZ_LOG
    elif path == "/api/v1/interchange/regions/{code}" and turn % 2 == 0:
        params["code"] = "440000"
    for prefix, caller in CALLER_BY_PREFIX:
        if path.startswith(prefix):
            return caller if turn % 5 else None
    return None


def _authorize(case: Any, world: dict[str, Any], caller: str | None) -> None:
    """Send the caller's token, or none; replaces whatever Authorization was generated.

    Set on the case itself (not passed to call()), so schemathesis sees the header as sent
    and does not strip it from a case generated as "missing Authorization".
    """
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if caller:
        headers["Authorization"] = world["tokens"][caller]
    case.headers = headers


_turns: dict[str, Iterator[int]] = defaultdict(itertools.count)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=HEALTH_CHECKS,
)
def test_api_fuzz(case: Any, fuzz_world: dict[str, Any]) -> None:
    label = case.operation.label
    turn = next(_turns[label])
    caller = _prepare(case, fuzz_world, turn)
    _authorize(case, fuzz_world, caller)
    response = case.call_and_validate(checks=CHECKS)
    STATUSES[label][response.status_code] += 1


@pytest.fixture
def workflow(fuzz_world: dict[str, Any]) -> type:
    """The state machine built from the document's links, with real tokens and some valid
    submissions so that links have something to follow."""
    world = fuzz_world

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        # Each scenario starts from the same database and the same turn, so that Hypothesis
        # sees the same behaviour when it replays one.
        def setup(self) -> None:
            self.turns = itertools.count()
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)
            super().teardown()

        def before_call(self, case: Any) -> None:
            turn = next(self.turns)
            path = case.operation.path
            body = case.body if isinstance(case.body, dict) else None
            if path == "/api/v1/applications" and body is not None and turn % 2 == 0:
                body.update(_valid_application(world))
            caller = None
            if path.endswith("/transitions") and body is not None and turn % 2 == 0:
                caller = _transition_turn(case, world, turn // 2, retarget=False)
            elif path.startswith("/api/v1/cases"):
                caller = "reviewer" if turn % 3 == 0 else "clerk"
            elif path.startswith("/api/v1/applications"):
                caller = "citizen"
            _authorize(case, world, caller)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            STATEFUL_STATUSES[case.operation.label][response.status_code] += 1
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    return Workflow


def test_api_stateful(workflow: Any) -> None:
    workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=HEALTH_CHECKS,
        )
    )
    # A read of a case or an application only succeeds with an id taken from an earlier
    # response, that is, by following a link.
    linked_reads = ("GET /api/v1/applications/{application_id}", "GET /api/v1/cases/{case_id}")
    assert any(STATEFUL_STATUSES[label][200] for label in linked_reads), "no link was followed"


def test_fuzz_figures() -> None:
    """Every operation fuzzed in this process got its examples and reached a 2xx at least once."""
    if not STATUSES and not STATEFUL_STATUSES:
        pytest.skip("neither fuzz test ran in this process")
    for title, table in (("fuzz", STATUSES), ("stateful", STATEFUL_STATUSES)):
        print(f"\n{title}: {sum(sum(c.values()) for c in table.values())} requests")
        for label, statuses in sorted(table.items()):
            print(f"  {label}: {sum(statuses.values())} {dict(sorted(statuses.items()))}")
    document = schema.raw_schema
    for label, statuses in STATUSES.items():
        method, path = label.split(" ", 1)
        operation = document["paths"][path][method.lower()]
        if operation.get("parameters") or operation.get("requestBody"):
            assert sum(statuses.values()) >= MAX_EXAMPLES, label
        # else: an operation without inputs has only a handful of distinct requests to send
        if label not in SUCCESS_NOT_EXPECTED:
            assert any(200 <= status < 300 for status in statuses), f"{label} never succeeded"
