"""`tongban bench lookup`: exchange gateway lookups per second vs a raw indexed query.

Gateway: POST /api/v1/exchange/lookups with a department system's API key — key check,
element catalog, minimum-necessary check against the item, grant, open-case check, registry
query, masking by level, the anomaly rules, and the data-use record with its hash-chained
audit record, durable before the answer (one statement on PostgreSQL when no alert is raised,
ADR 0015).
Baseline: POST /bench/lookup-baseline doing one indexed query of the same population rows,
with no authorisation, masking or recording.
Both go through Django's test client in this process against the same database (SQLite in a
temporary directory, or DATABASE_URL), in alternating rounds so drift hits both equally.
Target: ratio (gateway / baseline) ≥ 0.3.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from typing import Any

from bench._rounds import alternate

TARGET_RATIO = 0.3
PEOPLE = 500
ELEMENTS = ["person.name", "person.id_number", "person.birth_date", "person.gender"]


def _setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tongban.config.settings.test"
    os.environ["TONGBAN_BENCH"] = "1"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ROOT_URLCONF = "bench.lookup"  # the platform's URLs plus the baseline below
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.test.utils import setup_databases

        setup_databases(verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)


def __getattr__(name: str) -> Any:
    """`urlpatterns`, built on first use (Django is configured by then)."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from tongban.config.urls import urlpatterns as platform

    return [path("bench/lookup-baseline", _baseline_view()), *platform]


def _baseline_view() -> Any:
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.views.decorators.csrf import csrf_exempt

    from tongban.exchange.models import PopulationRecord

    @csrf_exempt
    def baseline(request: HttpRequest) -> HttpResponse:
        body = json.loads(request.body)
        row = (
            PopulationRecord.objects.filter(id_number=body["subject"])
            .values("name", "id_number", "birth_date", "gender", "updated_at")
            .first()
        )
        return JsonResponse(
            {"found": row is not None, "values": row}, json_dumps_params={"default": str}
        )

    return baseline


def _world() -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from tongban.cases.submission.services import UploadedMaterial, application_submit
    from tongban.catalog.models import Material, ServiceItem
    from tongban.catalog.services import item_publish
    from tongban.core.ids import synthetic_id_number, uscc_checksum
    from tongban.core.models import Division
    from tongban.core.services import calendar_seed_year
    from tongban.exchange.services import (
        grant_decide,
        grant_request,
        population_record_put,
        registries_seed,
        system_credential_issue,
    )
    from tongban.identity.models import Department, StaffRole
    from tongban.identity.selectors import actor_for_user
    from tongban.identity.services import citizen_register, staff_create

    for code, name, level, parent in (
        ("000000", "中华人民共和国", "nation", None),
        ("440000", "广东省", "province", "000000"),
        ("440100", "广州市", "city", "440000"),
    ):
        Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent_id": parent}
        )
    calendar_seed_year(year=date.today().year)  # noqa: DTZ011 — the bench's own calendar
    first17 = "11440100MB0000001"
    police = Department.objects.create(
        code=first17 + uscc_checksum(first17), name="广州市公安局", division_id="440100"
    )
    registries_seed(owners={"population": police})
    item = ServiceItem.objects.create(
        implementation_code=f"{police.code}3440101000001",
        catalog_code="440101000001",
        name="基准事项",
        item_type="07",
        department=police,
        division_id="440100",
        legal_limit_days=20,
        committed_limit_days=5,
        service_objects=["citizen"],
        form_schema={
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "姓名", "x-element": "person.name"},
                "birth": {"type": "string", "title": "出生日期", "x-element": "person.birth_date"},
                "gender": {"type": "string", "title": "性别", "x-element": "person.gender"},
            },
        },
    )
    Material.objects.create(
        item=item, code="M01", name="居民身份证", elements=["person.id_number", "person.name"]
    )
    item_publish(item=item, actor="bench")
    subjects = []
    for index in range(PEOPLE):
        id_number = synthetic_id_number(
            "440106", date(1960 + index % 40, 1 + index % 12, 1 + index % 28), index % 999 + 1
        )
        population_record_put(
            id_number=id_number,
            name=f"基准{index}",
            birth_date=date(1960 + index % 40, 1 + index % 12, 1 + index % 28),
            gender="男" if index % 2 else "女",
            household_address="广东省广州市天河区天河路1号",
            marital_status="已婚",
        )
        subjects.append(id_number)
    password = "Bench#2026pass"  # noqa: S105 — a throwaway bench database
    reviewer = staff_create(
        username="bench-reviewer",
        password=password,
        real_name="审查",
        department=police,
        scope=police.division,
        roles=[StaffRole.REVIEW, StaffRole.DECISION],
    )
    steward = staff_create(
        username="bench-steward",
        password=password,
        real_name="数据管理",
        department=police,
        scope=police.division,
        roles=[StaffRole.ADMIN],
    )
    grant = grant_request(
        actor=actor_for_user(reviewer.user),
        purpose=item.implementation_code,
        elements=ELEMENTS,
        reason="基准测试",
    )
    grant_decide(actor=actor_for_user(steward.user), grant_id=grant.pk, approve=True)
    citizen = citizen_register(
        real_name="基准", id_number=subjects[0], phone="13700000000", password=password
    )
    case = application_submit(
        actor=actor_for_user(get_user_model().objects.get(pk=citizen.user_id)),
        item_code=item.implementation_code,
        form_data={},
        materials=[UploadedMaterial("M01", "id.pdf", b"%PDF-1.4\n%%EOF\n")],
    ).case
    key, _ = system_credential_issue(department=police, name="基准系统", actor="bench")
    return {
        "item": item.implementation_code,
        "subjects": subjects,
        "key": key,
        "case": str(case.pk),
    }


def _round(client: Any, world: dict[str, Any], start: int, count: int, *, baseline: bool) -> float:
    subjects = world["subjects"]
    began = time.perf_counter()
    for index in range(start, start + count):
        body = json.dumps(
            {
                "subject": subjects[index % len(subjects)],
                "elements": ELEMENTS,
                "purpose": world["item"],
                "case_id": world["case"],
            }
        )
        if baseline:
            response = client.post("/bench/lookup-baseline", body, content_type="application/json")
        else:
            response = client.post(
                "/api/v1/exchange/lookups",
                body,
                content_type="application/json",
                HTTP_X_API_KEY=world["key"],
            )
        if response.status_code != 200 or not response.json()["found"]:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:300]!r}")
    return count / (time.perf_counter() - began)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tongban bench lookup")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args(argv)
    _setup()
    from django.db import connection
    from django.test import Client

    from tongban.exchange.models import DataUseRecord

    world = _world()
    client = Client()
    full_rate, base_rate = alternate(
        lambda start, count: _round(client, world, start, count, baseline=False),
        lambda start, count: _round(client, world, start, count, baseline=True),
        rounds=args.rounds,
        per_round=args.per_round,
        warmup=20,
    )
    ratio = full_rate / base_rate
    recorded = DataUseRecord.objects.count()
    runs = f"{args.rounds} rounds × {args.per_round} lookups, median"
    print(f"bench lookup ({connection.vendor}, {runs})")
    print(
        f"  gateway       : {full_rate:8.1f} lookups/s (auth, grant, masking, record, audit, rules)"
    )
    print(f"  baseline      : {base_rate:8.1f} lookups/s (same rows, one indexed query)")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"  ratio         : {ratio:8.2f}  (target ≥ {TARGET_RATIO}) {verdict}")
    print(f"  recorded      : {recorded} data-use records")
    return 0 if ratio >= TARGET_RATIO else 1
