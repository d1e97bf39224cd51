"""`tongban bench submit`: submissions per second through the full API path vs a baseline.

Full path: POST /api/v1/applications with a bearer token — authentication, JSON parsing,
form-schema validation, material sniffing and SHA-256/SM3 digests, idempotency key,
case-number allocation, state-machine history, hash-chained audit record.
Baseline: POST /bench/baseline/submit doing the same database writes with no logic.
Both run in this process through Django's test client against the same database (SQLite in
a temporary directory, or DATABASE_URL), in alternating rounds so drift hits both equally.
Target: ratio (full / baseline) ≥ 0.5.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from typing import Any

from bench._rounds import alternate

TARGET_RATIO = 0.5
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 2048


def _setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tongban.config.settings.test"
    os.environ["TONGBAN_BENCH"] = "1"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ROOT_URLCONF = "bench.submit"  # the platform's URLs plus the baseline below
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.test.utils import setup_databases

        setup_databases(verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)


def __getattr__(name: str) -> Any:
    """`urlpatterns`, built on first use (Django is configured by then). The baseline endpoint
    lives here, outside the shipped package: it has no authentication and no CSRF check."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from tongban.config.urls import urlpatterns as platform

    return [path("bench/baseline/submit", _baseline_view()), *platform]


def _baseline_view() -> Any:
    """The same database writes as a real submission — application, material file and row,
    case, history step, audit record and head — with no authentication, validation, hashing
    chain or state machine, so the ratio is the platform's overhead."""
    import uuid

    from django.core.files.base import ContentFile
    from django.db import transaction
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_POST

    from tongban.cases.models import Application, Case, CaseTransition, MaterialSubmission
    from tongban.catalog.models import ServiceItem
    from tongban.core import clock
    from tongban.core.models import AuditHead, AuditRecord

    @csrf_exempt
    @require_POST
    def baseline(request: HttpRequest) -> HttpResponse:
        body = json.loads(request.body)
        item = ServiceItem.objects.select_related("current_version").get(
            implementation_code=body["item_code"]
        )
        now = clock.now()
        with transaction.atomic():
            application = Application.objects.create(
                applicant_id=int(body["user_id"]),
                applicant_name="baseline",
                applicant_id_number="baseline",
                form_data=body["form"],
                submitted_at=now,
            )
            for material in body["materials"]:
                content = base64.b64decode(material["content_base64"])
                row = MaterialSubmission(
                    application=application,
                    material_code=material["material_code"],
                    material_name="m",
                    original_name="m",
                    content_type="application/pdf",
                    size=len(content),
                    sha256="0" * 64,
                    sm3="0" * 64,
                    uploaded_at=now,
                )
                row.file.save(f"{uuid.uuid4().hex}.pdf", ContentFile(content), save=False)
                row.save()
            case = Case.objects.create(
                case_number=uuid.uuid4().hex,
                application=application,
                item=item,
                item_version=item.current_version,  # type: ignore[misc]
                department_id=item.department_id,
                division_code=item.division_id,
                submitted_at=now,
            )
            CaseTransition.objects.create(
                case=case,
                action="submit",
                to_status="submitted",
                actor_role="applicant",
                occurred_at=now,
            )
            head, _ = AuditHead.objects.get_or_create(id=1, defaults={"record_hash": "0" * 64})
            record = AuditRecord.objects.create(
                sequence=head.sequence + 1,
                occurred_at=now,
                actor="bench",
                action="case.submit",
                outcome="success",
                previous_hash=head.record_hash,
                record_hash=uuid.uuid4().hex * 2,
            )
            AuditHead.objects.filter(id=1).update(
                sequence=record.sequence, record_hash=record.record_hash
            )
        return JsonResponse({"id": str(application.pk)}, status=201)

    return baseline


def _world() -> dict[str, Any]:
    from datetime import date

    from tongban.catalog.models import Material, ServiceItem
    from tongban.catalog.services import item_publish
    from tongban.core.ids import synthetic_id_number, uscc_checksum
    from tongban.core.models import Division
    from tongban.identity.models import Department
    from tongban.identity.services import api_token_issue, citizen_register

    for code, name, level, parent in (
        ("000000", "中华人民共和国", "nation", None),
        ("440000", "广东省", "province", "000000"),
        ("440100", "广州市", "city", "440000"),
    ):
        Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent_id": parent}
        )
    first17 = "11440100MB0000001"
    department = Department.objects.create(
        code=first17 + uscc_checksum(first17), name="广州市公安局", division_id="440100"
    )
    item = ServiceItem.objects.create(
        implementation_code=f"{department.code}3440101000001",
        catalog_code="440101000001",
        name="基准事项",
        item_type="07",
        department=department,
        division_id="440100",
        legal_limit_days=20,
        committed_limit_days=5,
        service_objects=["citizen"],
        form_schema={
            "type": "object",
            "required": ["reason", "move_date"],
            "properties": {
                "reason": {"type": "string", "title": "申请事由", "maxLength": 200},
                "move_date": {"type": "string", "title": "日期", "format": "date"},
                "household_size": {"type": "integer", "title": "人数", "minimum": 1, "maximum": 20},
            },
        },
    )
    Material.objects.create(item=item, code="M01", name="居民身份证", is_mandatory=True)
    item_publish(item=item, actor="bench")
    citizen = citizen_register(
        real_name="基准",
        id_number=synthetic_id_number("440106", date(1990, 1, 1), 1),
        phone="13700000000",
        password="Bench#2026pass",
    )
    token, _ = api_token_issue(user=citizen.user)
    return {"item_code": item.implementation_code, "token": token, "user_id": citizen.user_id}


def _body(world: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "item_code": world["item_code"],
        "form": {"reason": f"基准测试 {index}", "move_date": "2026-12-01", "household_size": 3},
        "materials": [
            {
                "material_code": "M01",
                "filename": "id.pdf",
                "content_base64": base64.b64encode(PDF).decode(),
            }
        ],
    }


def _round(client: Any, world: dict[str, Any], start: int, count: int, *, baseline: bool) -> float:
    began = time.perf_counter()
    for index in range(start, start + count):
        body = _body(world, index)
        if baseline:
            body["user_id"] = world["user_id"]
            response = client.post(
                "/bench/baseline/submit", data=json.dumps(body), content_type="application/json"
            )
        else:
            response = client.post(
                "/api/v1/applications",
                data=json.dumps(body),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {world['token']}",
                HTTP_IDEMPOTENCY_KEY=f"bench-{index}",
            )
        if response.status_code != 201:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:300]!r}")
    return count / (time.perf_counter() - began)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tongban bench submit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=60)
    args = parser.parse_args(argv)
    _setup()
    from django.db import connection
    from django.test import Client

    world = _world()
    client = Client()
    full_rate, base_rate = alternate(
        lambda start, count: _round(client, world, start, count, baseline=False),
        lambda start, count: _round(client, world, start, count, baseline=True),
        rounds=args.rounds,
        per_round=args.per_round,
        warmup=10,
    )
    ratio = full_rate / base_rate
    runs = f"{args.rounds} rounds × {args.per_round} submissions, median"
    print(f"bench submit ({connection.vendor}, {runs})")
    print(f"  full API path : {full_rate:8.1f} submissions/s")
    print(f"  baseline      : {base_rate:8.1f} submissions/s (same writes, no logic)")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"  ratio         : {ratio:8.2f}  (target ≥ {TARGET_RATIO}) {verdict}")
    return 0 if ratio >= TARGET_RATIO else 1
