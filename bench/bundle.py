"""`tongban bench bundle`: 一件事 submissions per second against single-item submissions of the
same total size, measured in the same run.

A bundle of N items (four departments; two items wait for another's result) is submitted
through POST /api/v1/bundle-cases: one request, N child cases, N materials. The comparison
submits the same N items one by one through POST /api/v1/applications: N requests, N cases,
N materials. Both paths do full validation, material sniffing and digests, case numbers,
history and the hash-chained audit record; they alternate in rounds so drift hits both.
Reported: bundles/s, sets of N single submissions/s, and their ratio.
Target: ratio ≥ 0.7 (a bundle may cost a little more than its parts: the merged form is
validated once more per item, waiting children and bundle bookkeeping are written).
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from typing import Any

from bench._rounds import alternate
from bench.submit import _setup

TARGET_RATIO = 0.7
ITEMS = 4
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 2048


def _world() -> dict[str, Any]:
    from datetime import date

    from tongban.catalog.bundles import DependencySpec, bundle_save
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
    schema = {
        "type": "object",
        "required": ["child_name", "birth_date"],
        "properties": {
            "child_name": {"type": "string", "title": "姓名", "x-element": "child.name"},
            "birth_date": {
                "type": "string",
                "title": "出生日期",
                "format": "date",
                "x-element": "child.birth_date",
            },
            "note": {"type": "string", "title": "备注", "maxLength": 200},
        },
    }
    items = []
    for index in range(ITEMS):
        first17 = f"11440100MB00100{index:02d}"
        department = Department.objects.create(
            code=first17 + uscc_checksum(first17), name=f"基准部门{index}", division_id="440100"
        )
        item_schema = json.loads(json.dumps(schema))
        if index >= 2:  # the last two wait for the first one's result
            item_schema["properties"]["certificate"] = {
                "type": "string",
                "title": "证明编号",
                "x-element": "child.birth_certificate_number",
            }
        item = ServiceItem.objects.create(
            implementation_code=f"{department.code}344010100{index:04d}"[:31],
            catalog_code=f"44010100{index:04d}",
            name=f"基准事项{index}",
            item_type="20",
            department=department,
            division_id="440100",
            legal_limit_days=20,
            committed_limit_days=2,
            service_objects=["citizen"],
            form_schema=item_schema,
        )
        Material.objects.create(item=item, code="M01", name=f"材料{index}", is_mandatory=True)
        item_publish(item=item, actor="bench")
        item.refresh_from_db()
        items.append(item)
    bundle_save(
        code="bench",
        name="基准一件事",
        division=Division.objects.get(code="440100"),
        lead_department=items[0].department,
        items=items,
        dependencies=[
            DependencySpec(0, 2, ("child.birth_certificate_number",)),
            DependencySpec(0, 3, ("child.birth_certificate_number",)),
        ],
        actor="bench",
    )
    citizen = citizen_register(
        real_name="基准",
        id_number=synthetic_id_number("440106", date(1990, 1, 1), 1),
        phone="13700000000",
        password="Bench#2026pass",
    )
    token, _ = api_token_issue(user=citizen.user)
    return {"items": [i.implementation_code for i in items], "token": token}


def _material(code: str) -> dict[str, str]:
    return {
        "material_code": code,
        "filename": "m.pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }


def _post(client: Any, world: dict[str, Any], path: str, body: dict[str, Any], key: str) -> None:
    response = client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world['token']}",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    if response.status_code != 201:
        raise SystemExit(f"unexpected {response.status_code}: {response.content[:300]!r}")


def _round(client: Any, world: dict[str, Any], start: int, count: int, *, bundle: bool) -> float:
    """Bundles per second, or sets of ITEMS single submissions per second."""
    began = time.perf_counter()
    for index in range(start, start + count):
        form = {"child_name": f"基准{index}", "birth_date": "2026-11-20", "note": "基准"}
        if bundle:
            body = {
                "bundle_code": "bench",
                "form": {
                    "child.name": form["child_name"],
                    "child.birth_date": form["birth_date"],
                    **{f"item{n + 1}__note": form["note"] for n in range(ITEMS)},
                },
                "materials": [_material(f"B{n + 1:02d}") for n in range(ITEMS)],
            }
            _post(client, world, "/api/v1/bundle-cases", body, f"bundle-{index}")
        else:
            for n, code in enumerate(world["items"]):
                single = {**form, **({"certificate": "B-1"} if n >= 2 else {})}
                body = {"item_code": code, "form": single, "materials": [_material("M01")]}
                _post(client, world, "/api/v1/applications", body, f"single-{index}-{n}")
    return count / (time.perf_counter() - began)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tongban bench bundle")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    args = parser.parse_args(argv)
    _setup()
    from django.db import connection
    from django.test import Client

    world = _world()
    client = Client()
    bundle_rate, single_rate = alternate(
        lambda start, count: _round(client, world, start, count, bundle=True),
        lambda start, count: _round(client, world, start, count, bundle=False),
        rounds=args.rounds,
        per_round=args.per_round,
        warmup=5,
    )
    ratio = bundle_rate / single_rate
    runs = f"{args.rounds} rounds × {args.per_round}, median"
    print(f"bench bundle ({connection.vendor}, {ITEMS} items per bundle, {runs})")
    print(
        f"  bundle submissions      : {bundle_rate:8.1f} bundles/s "
        f"({ITEMS} cases, {ITEMS} materials each)"
    )
    print(f"  single-item submissions : {single_rate:8.1f} sets/s ({ITEMS} requests per set)")
    print(f"                            {single_rate * ITEMS:8.1f} submissions/s")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"  ratio (bundle / set)    : {ratio:8.2f}  (target ≥ {TARGET_RATIO}) {verdict}")
    return 0 if ratio >= TARGET_RATIO else 1
