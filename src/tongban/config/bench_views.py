"""Bench-only baseline endpoint (TONGBAN["BENCH_BASELINE"]; never enabled in production).

It performs the same database writes as a real submission — application, material file and
row, case, history step, audit record and head — with no authentication, validation, hashing
chain or state machine, so `tongban bench submit` can report the platform's overhead as a ratio.
"""

from __future__ import annotations

import base64
import json
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
def baseline_submit(request: HttpRequest) -> HttpResponse:
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
