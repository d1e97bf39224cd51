"""The ledger's read-only API and its witness endpoint (/api/v1/ledger)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from tongban.identity.models import StaffRole
from tongban.identity.services import api_token_issue
from tongban.ledger import merkle, selectors, services
from tongban.ledger.models import WitnessedCheckpoint
from tongban.ledger.note import checkpoint_open, cosignature_verify, verifier_from_vkey

from . import factories as f
from .conftest import bearer
from .test_ledger_witness import ORIGIN, RemoteRegion

pytestmark = pytest.mark.django_db
BASE = "/api/v1/ledger"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def unb64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


@pytest.fixture
def published(db: Any) -> list[bytes]:
    entries = [f"licence event {i}".encode() for i in range(21)]
    services.log_append_many(log_name="licenses", entries=entries)
    services.checkpoint_publish(log_name="licenses")
    return entries


def test_log_list_shows_public_keys(api: Client, published: list[bytes]) -> None:
    response = api.get(f"{BASE}/logs")
    assert response.status_code == 200
    [log] = response.json()
    assert log["name"] == "licenses"
    assert log["origin"] == "tongban.local/licenses"
    assert (log["hash_algorithm"], log["size"]) == ("sm3", 21)
    assert log["vkeys"] == selectors.log_verifier_keys(log_name="licenses")
    assert len(log["vkeys"]) == 2


def test_latest_checkpoint_is_a_plain_text_signed_note(api: Client, published: list[bytes]) -> None:
    response = api.get(f"{BASE}/logs/licenses/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    note = response.content.decode()
    verifiers = [verifier_from_vkey(v) for v in api.get(f"{BASE}/logs").json()[0]["vkeys"]]
    checkpoint = checkpoint_open(note, verifiers, "tongban.local/licenses")
    assert checkpoint.size == 21
    services.log_get_or_create(name="empty")
    missing = api.get(f"{BASE}/logs/empty/checkpoint")
    assert missing.status_code == 404
    assert missing.json()["code"] == "checkpoint_not_found"


def test_entry_with_inclusion_proof_verifies_against_the_checkpoint(
    api: Client, published: list[bytes]
) -> None:
    services.log_append(log_name="licenses", entry=b"after the checkpoint")
    note = api.get(f"{BASE}/logs/licenses/checkpoint").content.decode()
    vkeys = selectors.log_verifier_keys(log_name="licenses")
    checkpoint = checkpoint_open(
        note, [verifier_from_vkey(v) for v in vkeys], "tongban.local/licenses"
    )
    response = api.get(f"{BASE}/logs/licenses/entries/7?size={checkpoint.size}")
    assert response.status_code == 200
    body = response.json()
    assert base64.b64decode(body["entry"]) == published[7]
    assert (body["index"], body["tree_size"]) == (7, 21)
    assert base64.b64decode(body["root_hash"]) == checkpoint.root_hash
    leaf = merkle.leaf_hash("sm3", published[7])
    assert base64.b64decode(body["leaf_hash"]) == leaf
    proof = unb64(body["inclusion_proof"])
    assert merkle.verify_inclusion("sm3", leaf, 7, 21, proof, checkpoint.root_hash)
    # without ?size= the proof is against the current tree (22 leaves)
    current = api.get(f"{BASE}/logs/licenses/entries/7").json()
    assert current["tree_size"] == 22


def test_consistency_proof_between_two_sizes(api: Client, published: list[bytes]) -> None:
    response = api.get(f"{BASE}/logs/licenses/consistency?old=5&new=21")
    assert response.status_code == 200
    body = response.json()
    old_root, new_root = (
        base64.b64decode(body["old_root_hash"]),
        base64.b64decode(body["new_root_hash"]),
    )
    assert new_root == selectors.tree_head(log_name="licenses").root_hash
    assert merkle.verify_consistency(
        "sm3", 5, 21, old_root, new_root, unb64(body["consistency_proof"])
    )
    head = api.get(f"{BASE}/logs/licenses/tree-head?size=5").json()
    assert head == {"size": 5, "root_hash": b64(old_root)}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/logs/nope/entries/0", 404, "log_not_found"),
        ("/logs/licenses/entries/21", 404, "entry_not_found"),
        ("/logs/licenses/entries/-1", 422, "size_out_of_range"),
        ("/logs/licenses/entries/abc", 422, "validation_error"),
        ("/logs/licenses/entries/99999999999999999999999", 422, "size_out_of_range"),
        ("/logs/licenses/entries/3?size=2", 404, "entry_not_found"),
        ("/logs/licenses/entries/3?size=22", 422, "size_out_of_range"),
        ("/logs/licenses/entries/3?size=x", 422, "validation_error"),
        ("/logs/licenses/consistency?old=5", 422, "validation_error"),
        ("/logs/licenses/consistency?old=9&new=5", 422, "size_out_of_range"),
        ("/logs/licenses/consistency?old=-1&new=5", 422, "size_out_of_range"),
        ("/logs/licenses/consistency?old=1&new=99", 422, "size_out_of_range"),
        ("/logs/licenses/consistency?old=1&new=" + "9" * 40, 422, "size_out_of_range"),
        ("/logs/licenses/tree-head?size=22", 422, "size_out_of_range"),
        ("/logs/nope/checkpoint", 404, "log_not_found"),
    ],
)
def test_bad_parameters_answer_4xx_with_a_code(
    api: Client, published: list[bytes], path: str, status: int, code: str
) -> None:
    response = api.get(BASE + path)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]


def test_errors_in_english(api: Client, published: list[bytes]) -> None:
    chinese = api.get(f"{BASE}/logs/licenses/tree-head?size=22").json()
    assert chinese["message"] == "参数 size 应在 0 到 21 之间"
    api.cookies["django_language"] = "en"
    english = api.get(f"{BASE}/logs/licenses/tree-head?size=22").json()
    assert (english["code"], english["message"]) == (
        "size_out_of_range",
        "size must be between 0 and 21",
    )
    assert english["fields"] == {"size": "Out of range"}
    assert api.get(f"{BASE}/logs/nope/checkpoint").json()["message"] == "There is no such log"


@pytest.fixture
def remote(db: Any) -> RemoteRegion:
    region = RemoteRegion()
    services.trusted_log_save(origin=ORIGIN, vkeys=[s.vkey() for s in region.signers])
    region.grow(4)
    return region


def post_witness(api: Client, headers: dict[str, str], body: Any) -> Any:
    return api.post(
        f"{BASE}/witness",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        **headers,
    )


def admin_headers() -> dict[str, str]:
    f.division_tree()
    return bearer(f.staff(f.department("440000", "广东省政务服务数据管理局"), [StaffRole.ADMIN]))


def test_witness_cosigns_for_an_admin(api: Client, remote: RemoteRegion) -> None:
    headers = admin_headers()
    note = remote.note()
    response = post_witness(api, headers, {"origin": ORIGIN, "checkpoint": note})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["origin"], body["size"]) == (ORIGIN, 4)
    assert body["witness_vkey"] == api.get(f"{BASE}/witness").json()["vkeys"][0]
    cosigned = note + body["cosignature"]
    assert cosignature_verify(note=cosigned, verifier=verifier_from_vkey(body["witness_vkey"]))

    remote.grow(3)
    response = post_witness(
        api,
        headers,
        {
            "origin": ORIGIN,
            "checkpoint": remote.note(),
            "consistency_proof": [b64(p) for p in remote.proof(4)],
        },
    )
    assert response.status_code == 200
    assert WitnessedCheckpoint.objects.count() == 2


def test_witness_reports_a_split_view_as_409(api: Client, remote: RemoteRegion) -> None:
    headers = admin_headers()
    assert (
        post_witness(api, headers, {"origin": ORIGIN, "checkpoint": remote.note()}).status_code
        == 200
    )
    fork = RemoteRegion(prefix=b"fork")
    fork.signers = remote.signers
    fork.grow(4)
    response = post_witness(api, headers, {"origin": ORIGIN, "checkpoint": fork.note()})
    assert response.status_code == 409
    assert response.json()["code"] == "split_view"


def test_witness_needs_an_admin_or_a_system_account(api: Client, remote: RemoteRegion) -> None:
    note = remote.note()
    body = {"origin": ORIGIN, "checkpoint": note}
    assert post_witness(api, {}, body).status_code == 401
    f.division_tree()
    clerk = f.staff(f.department(), [StaffRole.INTAKE, StaffRole.REVIEW, StaffRole.DECISION])
    for actor in (f.citizen("李明"), clerk):
        response = post_witness(api, bearer(actor), body)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    # even an invalid body is refused for lack of permission first (no validation leak)
    assert post_witness(api, bearer(clerk), "not json").status_code == 403
    assert WitnessedCheckpoint.objects.count() == 0

    system = get_user_model().objects.create_user("region-b-sync", password=f.PASSWORD)
    system.user_permissions.add(Permission.objects.get(codename="add_witnessedcheckpoint"))
    raw, _ = api_token_issue(user=system)
    response = post_witness(api, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, body)
    assert response.status_code == 200
    root = get_user_model().objects.create_superuser("root", password=f.PASSWORD)
    raw, _ = api_token_issue(user=root)
    assert post_witness(api, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, body).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"origin": ORIGIN}, 422, "validation_error"),
        ({"origin": ORIGIN, "checkpoint": 5}, 422, "validation_error"),
        ({"origin": ORIGIN, "checkpoint": "garbage"}, 422, "invalid_checkpoint"),
        ({"origin": "nobody.example/log", "checkpoint": "x\n\n— a AAAAAAAA\n"}, 404, "unknown_log"),
        (
            {"origin": ORIGIN, "checkpoint": "NOTE", "consistency_proof": ["!!"]},
            422,
            "invalid_proof",
        ),
        (
            {"origin": ORIGIN, "checkpoint": "NOTE", "consistency_proof": [b64(b"ab")]},
            422,
            "invalid_proof",
        ),
        (
            {"origin": ORIGIN, "checkpoint": "NOTE", "consistency_proof": "x"},
            422,
            "validation_error",
        ),
    ],
)
def test_witness_bad_input_is_a_4xx(
    api: Client, remote: RemoteRegion, body: Any, status: int, code: str
) -> None:
    if isinstance(body, dict) and body.get("checkpoint") == "NOTE":
        body = {**body, "checkpoint": remote.note()}
    response = post_witness(api, admin_headers(), body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert WitnessedCheckpoint.objects.count() == 0
