"""Signed, idempotent messages between regions (tongban/interchange): the path 跨省通办 hand-offs
take, between region tenants of one deployment and between two deployments on loopback."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client

from tongban.core.crypto import sm2_keypair, sm2_sign
from tongban.core.models import AuditRecord
from tongban.interchange import services as interchange
from tongban.interchange.models import InboundMessage, OutboundMessage, Peer

pytestmark = pytest.mark.django_db

CALLS: list[dict[str, Any]] = []


def _counting(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(payload)
    return {"seen": len(CALLS)}


@pytest.fixture(autouse=True)
def _handler() -> Iterator[None]:
    CALLS.clear()
    interchange.handler_register("test.count", _counting)
    yield
    interchange.HANDLERS.unregister("test.count")


@pytest.fixture
def tenants(db: Any) -> None:
    """Guangdong and Zhejiang as two region tenants of this deployment."""
    for code, name in (("440000", "广东省"), ("330000", "浙江省")):
        interchange.peer_save(
            code=code, name=name, base_url="", public_key=interchange.region_public_key(code)
        )


def _send(**kwargs: Any) -> OutboundMessage:
    """message_send, then what happens after commit (delivery) — tests run in a transaction."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        message = interchange.message_send(**kwargs)
    message.refresh_from_db()
    return message


def _signed(sender: str, recipient: str, kind: str, payload: dict[str, Any]) -> tuple[bytes, str]:
    """A message as a peer would send it (signed with the sender region's key)."""
    message = _send(sender=sender, recipient=recipient, kind=kind, payload=payload)
    return message.body.encode(), base64.b64encode(bytes.fromhex(message.signature)).decode()


def _post(client: Client, sender: str, body: bytes, signature: str) -> Any:
    return client.post(
        "/api/v1/interchange/messages",
        data=body,
        content_type="application/json",
        headers={interchange.SENDER_HEADER: sender, interchange.SIGNATURE_HEADER: signature},
    )


class TestBetweenTenants:
    def test_message_is_delivered_and_processed_once(self, tenants: None) -> None:
        message = _send(
            sender="440000", recipient="330000", kind="test.count", payload={"case": "A1"}
        )

        assert message.delivered_at is not None
        assert message.reply == {"seen": 1}
        inbound = InboundMessage.objects.get()
        assert (inbound.sender, inbound.recipient, inbound.kind) == (
            "440000",
            "330000",
            "test.count",
        )
        assert inbound.payload == {"case": "A1"}
        assert CALLS == [{"case": "A1"}]

    def test_a_duplicate_is_answered_with_the_first_reply_and_not_processed(
        self, tenants: None, client: Client
    ) -> None:
        body, signature = _signed("440000", "330000", "test.count", {"n": 1})
        assert CALLS == [{"n": 1}]  # delivered in-process already

        for _ in range(2):
            response = _post(client, "440000", body, signature)
            assert response.status_code == 200
            assert response.json() == {"status": "duplicate", "reply": {"seen": 1}}
        assert CALLS == [{"n": 1}]
        assert InboundMessage.objects.count() == 1

    def test_messages_are_signed_by_the_sender_region(self, tenants: None, client: Client) -> None:
        body, signature = _signed("440000", "330000", "interchange.ping", {"nonce": "x"})
        forged = body.replace(b'"nonce":"x"', b'"nonce":"y"')

        response = _post(client, "440000", forged, signature)

        assert response.status_code == 401
        assert response.json()["code"] == "bad_signature"
        assert InboundMessage.objects.count() == 1  # only the genuine one
        assert AuditRecord.objects.filter(action="interchange.receive", outcome="denied").exists()

    def test_a_key_that_is_not_the_senders_is_refused(self, tenants: None, client: Client) -> None:
        body, _ = _signed("440000", "330000", "interchange.ping", {})
        other_private, _ = sm2_keypair()
        signature = base64.b64encode(sm2_sign(other_private, body)).decode()

        assert _post(client, "440000", body, signature).status_code == 401

    @pytest.mark.parametrize(
        ("sender", "change", "status", "code"),
        [
            ("110000", None, 403, "unknown_sender"),
            ("440000", ("recipient", "110000"), 422, "wrong_recipient"),
            ("440000", ("sender", "330000"), 422, "sender_mismatch"),
            ("440000", ("kind", "no.such.kind"), 422, "unknown_kind"),
        ],
    )
    def test_refusals_say_why_and_store_nothing(
        self,
        tenants: None,
        client: Client,
        sender: str,
        change: tuple[str, str] | None,
        status: int,
        code: str,
    ) -> None:
        envelope = {
            "v": 1,
            "id": "2f1d4c3e-0000-4000-8000-000000000001",
            "sender": "440000",
            "recipient": "330000",
            "kind": "test.count",
            "sent_at": "2026-11-27T00:00:00+00:00",
            "payload": {},
        }
        if change:
            envelope[change[0]] = change[1]
        body = json.dumps(envelope).encode()
        private_hex, _ = interchange.sm2_key(interchange.KEY_PURPOSE, "440000")
        signature = base64.b64encode(sm2_sign(private_hex, body)).decode()

        response = _post(client, sender, body, signature)

        assert response.status_code == status
        assert response.json()["code"] == code
        assert response.json()["message"]  # Chinese reason
        assert InboundMessage.objects.count() == 0
        assert CALLS == []

    def test_garbage_is_a_clear_4xx(self, tenants: None, client: Client) -> None:
        assert _post(client, "440000", b"{}", "not base64!").status_code == 401
        assert _post(client, "440000", b"", "").status_code == 401
        private_hex, _ = interchange.sm2_key(interchange.KEY_PURPOSE, "440000")
        for body in (b"[1]", b"not json", b'{"v": 2}'):
            signature = base64.b64encode(sm2_sign(private_hex, body)).decode()
            response = _post(client, "440000", body, signature)
            assert response.status_code == 422, body
            assert response.json()["code"] == "bad_envelope"

    def test_region_key_endpoint(self, client: Client) -> None:
        response = client.get("/api/v1/interchange/regions/440000")
        assert response.status_code == 200
        assert response.json()["public_key"] == interchange.region_public_key("440000")
        assert client.get("/api/v1/interchange/regions/999999").status_code == 404
        client.cookies["django_language"] = "en"
        english = client.get("/api/v1/interchange/regions/999999").json()
        assert (english["code"], english["message"]) == (
            "unknown_region",
            "This deployment does not serve region 999999",
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestKeyRotation:
    """A region replaces its signing key; peers learn the new one and, for a grace period, still
    accept the old one (messages signed just before the rotation may still be on their way)."""

    def test_rotation_signs_pending_messages_again_and_tells_local_tenants(
        self, tenants: None, settings: Any
    ) -> None:
        from django.core.management import call_command

        old_key = interchange.region_public_key("440000")
        # A message not delivered yet (delivery runs after commit, which the test holds back).
        message = interchange.message_send(
            sender="440000", recipient="330000", kind="test.count", payload={"n": 1}
        )
        out = io.StringIO()
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):  # the key file moves on commit
            call_command("interchange_key_rotate", "440000", stdout=out)
        new_key = interchange.region_public_key("440000")
        assert new_key != old_key
        assert interchange.key_fingerprint(new_key) in out.getvalue()
        assert "--fetch-key" in out.getvalue()
        key_dir = Path(settings.TONGBAN["KEY_DIR"]) / interchange.KEY_PURPOSE
        (retired,) = key_dir.glob("440000.sm2.retired-*")  # kept, not deleted
        assert retired.stat().st_mode & 0o777 == 0o600
        assert not list(key_dir.glob("440000.sm2.pending-*"))  # promoted

        message.refresh_from_db()
        from tongban.core.crypto import sm2_verify

        assert sm2_verify(new_key, message.body.encode(), bytes.fromhex(message.signature))
        peer = Peer.objects.get(code="440000")
        assert (peer.public_key, peer.previous_public_key) == (new_key, old_key)
        assert interchange.message_deliver(message_id=str(message.pk))
        assert CALLS == [{"n": 1}]
        record = AuditRecord.objects.get(action="interchange.key_rotate")
        assert record.detail == {
            "old_key_sm3": interchange.key_fingerprint(old_key),
            "new_key_sm3": interchange.key_fingerprint(new_key),
            "resigned": 1,
        }
        # Messages sent from now on are signed with the new key and delivered as before.
        assert _send(sender="440000", recipient="330000", kind="test.count", payload={}).reply

    def test_the_previous_key_is_accepted_for_its_grace_period_only(
        self, tenants: None, client: Client, settings: Any
    ) -> None:
        settings.TONGBAN = {**settings.TONGBAN, "INTERCHANGE_KEY_GRACE_DAYS": 2}
        old_private, old_public = sm2_keypair()
        new_private, new_public = sm2_keypair()
        with time_machine.travel("2026-11-27 10:00:00+08:00", tick=False) as clock:
            interchange.peer_save(
                code="110000", name="北京市", base_url="http://peer.invalid", public_key=old_public
            )
            interchange.peer_save(
                code="110000", name="北京市", base_url="http://peer.invalid", public_key=new_public
            )
            peer = Peer.objects.get(code="110000")
            assert peer.previous_public_key == old_public

            def message(number: int, private_hex: str) -> tuple[bytes, str]:
                body = json.dumps(
                    {
                        "v": interchange.ENVELOPE_VERSION,
                        "id": f"00000000-0000-4000-8000-00000000000{number}",
                        "sender": "110000",
                        "recipient": "440000",
                        "kind": "test.count",
                        "sent_at": "2026-11-27T02:00:00+00:00",
                        "payload": {"n": number},
                    },
                    separators=(",", ":"),
                    sort_keys=True,
                ).encode()
                return body, base64.b64encode(sm2_sign(private_hex, body)).decode()

            assert _post(client, "110000", *message(1, new_private)).status_code == 200
            assert _post(client, "110000", *message(2, old_private)).status_code == 200
            stranger = _post(client, "110000", *message(3, sm2_keypair()[0]))
            assert stranger.status_code == 401
            clock.shift(timedelta(days=2, seconds=1))
            late = _post(client, "110000", *message(4, old_private))
            assert late.status_code == 401 and late.json()["code"] == "bad_signature"
        assert CALLS == [{"n": 1}, {"n": 2}]
        received = AuditRecord.objects.filter(action="interchange.receive", outcome="success")
        assert [r.detail.get("signed_with") for r in received.order_by("sequence")] == [
            None,
            "previous",
        ]
        saved = AuditRecord.objects.filter(action="interchange.peer_save").order_by("sequence")
        assert saved.last().detail["previous_key_sm3"] == interchange.key_fingerprint(old_public)

    def test_a_leaked_previous_key_can_be_revoked_at_once(self, tenants: None) -> None:
        from django.core.management import call_command

        old_public, new_public = sm2_keypair()[1], sm2_keypair()[1]
        for key in (old_public, new_public):
            interchange.peer_save(
                code="110000", name="北京市", base_url="http://peer.invalid", public_key=key
            )
        assert Peer.objects.get(code="110000").previous_public_key == old_public
        call_command(
            "peer_add", "110000", "--name", "北京市", "--url", "http://peer.invalid",
            "--public-key", new_public, "--revoke-previous", stdout=io.StringIO(),
        )  # fmt: skip
        peer = Peer.objects.get(code="110000")
        assert (peer.public_key, peer.previous_public_key, peer.previous_key_until) == (
            new_public,
            "",
            None,
        )
        saved = AuditRecord.objects.filter(action="interchange.peer_save").order_by("sequence")
        assert saved.last().detail["previous_key_revoked"] is True

    def test_a_failed_rotation_changes_nothing(
        self, tenants: None, monkeypatch: pytest.MonkeyPatch, settings: Any
    ) -> None:
        from django.db import transaction
        from django.test import TestCase

        old_key = interchange.region_public_key("440000")
        message = interchange.message_send(
            sender="440000", recipient="330000", kind="test.count", payload={"n": 1}
        )
        signature = OutboundMessage.objects.get(pk=message.pk).signature

        def broken(**kwargs: Any) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(interchange.audit, "audit_record_append", broken)
        with (
            TestCase.captureOnCommitCallbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            interchange.region_key_rotate(code="440000", actor="admin")
        assert interchange.region_public_key("440000") == old_key  # the key file is unchanged
        assert OutboundMessage.objects.get(pk=message.pk).signature == signature
        assert Peer.objects.get(code="440000").public_key == old_key
        key_dir = Path(settings.TONGBAN["KEY_DIR"]) / interchange.KEY_PURPOSE
        assert not list(key_dir.glob("440000.sm2.pending-*"))  # the staged key is gone

    def test_a_key_that_cannot_be_put_in_place_after_commit_is_not_lost(
        self, tenants: None, monkeypatch: pytest.MonkeyPatch, settings: Any, caplog: Any
    ) -> None:
        from django.test import TestCase

        from tongban.core.crypto import sm2_public_key

        def disk_full(*args: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(interchange, "sm2_key_promote", disk_full)
        with pytest.raises(OSError), TestCase.captureOnCommitCallbacks(execute=True):
            interchange.region_key_rotate(code="440000", actor="admin")
        key_dir = Path(settings.TONGBAN["KEY_DIR"]) / interchange.KEY_PURPOSE
        (pending,) = key_dir.glob("440000.sm2.pending-*")
        assert pending.stat().st_mode & 0o777 == 0o600
        # The database's new key is the pending file's: it can be put in place by hand.
        assert (
            sm2_public_key(pending.read_text().strip())
            == Peer.objects.get(code="440000").public_key
        )
        assert str(pending) in caplog.text

    def test_a_message_signed_with_a_rotated_away_key_is_signed_again_when_refused(
        self, tenants: None
    ) -> None:
        from django.test import TestCase
        from django.utils import timezone

        from tongban.core.keys import sm2_key

        old_private = sm2_key(interchange.KEY_PURPOSE, "440000")[0]
        with TestCase.captureOnCommitCallbacks(execute=True):
            interchange.region_key_rotate(code="440000", actor="admin")
        peer = Peer.objects.get(code="440000")
        interchange.peer_save(  # the old key leaked: no grace period
            code="440000", name=peer.name, base_url="", public_key=peer.public_key,
            keep_previous=False,
        )  # fmt: skip
        # A message committed with the old key while the rotation ran.
        body = json.dumps(
            {
                "v": interchange.ENVELOPE_VERSION,
                "id": "00000000-0000-4000-8000-000000000042",
                "sender": "440000",
                "recipient": "330000",
                "kind": "test.count",
                "sent_at": "2026-11-27T02:00:00+00:00",
                "payload": {"n": 42},
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        message = OutboundMessage.objects.create(
            id="00000000-0000-4000-8000-000000000042",
            sender="440000",
            peer=Peer.objects.get(code="330000"),
            kind="test.count",
            body=body,
            signature=sm2_sign(old_private, body.encode()).hex(),
            created_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )
        assert not interchange.message_deliver(message_id=str(message.pk))  # refused: 401
        assert interchange.message_deliver(message_id=str(message.pk))  # signed again: through
        assert CALLS == [{"n": 42}]

    def test_rotation_leaves_a_disabled_tenant_disabled(self, tenants: None) -> None:
        from django.test import TestCase

        Peer.objects.filter(code="440000").update(is_active=False)
        with TestCase.captureOnCommitCallbacks(execute=True):
            interchange.region_key_rotate(code="440000", actor="admin")
        peer = Peer.objects.get(code="440000")
        assert not peer.is_active and peer.public_key == interchange.region_public_key("440000")

    def test_saving_the_same_key_again_keeps_no_previous_key(self, tenants: None) -> None:
        key = interchange.region_public_key("330000")
        interchange.peer_save(code="330000", name="浙江省", base_url="", public_key=key)
        peer = Peer.objects.get(code="330000")
        assert (peer.previous_public_key, peer.previous_key_until) == ("", None)

    def test_rotating_a_region_this_deployment_does_not_serve_is_refused(self) -> None:
        from django.core.management import call_command
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="unknown_region"):
            call_command("interchange_key_rotate", "110000")


class Deployment:
    """A second tongban deployment (Zhejiang) in its own process, database and key directory."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.port = root, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tongban.config.settings.dev",
            "TONGBAN_VAR_DIR": str(root),
            "TONGBAN_KEY_DIR": str(root / "keys"),
            "TONGBAN_REGION_CODES": "330000",
            "DATABASE_URL": f"sqlite:///{root / 'zj.sqlite3'}",
            "TONGBAN_MAX_IN_FLIGHT": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.manage("migrate", "--verbosity", "0")

    def manage(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "django", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tongban.config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1)  # noqa: S310
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("second deployment did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def inbox(self) -> list[dict[str, Any]]:
        out = self.manage(
            "shell",
            "-c",
            "import json; from tongban.interchange.models import InboundMessage as M; "
            "print(json.dumps(list(M.objects.values('sender', 'kind', 'reply'))))",
        )
        return list(json.loads(out.strip().splitlines()[-1]))


@pytest.fixture
def zhejiang(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path / "zhejiang")
    deployment.start()
    yield deployment
    deployment.stop()


@pytest.mark.django_db(transaction=True)
def test_two_deployments_on_loopback(live_server: Any, zhejiang: Deployment, settings: Any) -> None:
    """Guangdong (this process) and Zhejiang (another deployment) exchange signed messages:
    delivered once, a duplicate ignored, a lost message retried after the peer comes back."""
    settings.TONGBAN = {**settings.TONGBAN, "REGION_CODES": ["440000"]}
    guangdong_key = interchange.region_public_key("440000")
    zhejiang.manage(
        "peer_add",
        "440000",
        "--name",
        "广东省",
        "--url",
        live_server.url,
        "--public-key",
        guangdong_key,
    )
    from django.core.management import call_command

    call_command("peer_add", "330000", "--name", "浙江省", "--url", zhejiang.url, "--fetch-key")

    # 1. Delivered over HTTP and processed by the other deployment.
    sent = interchange.message_send(
        sender="440000", recipient="330000", kind="interchange.ping", payload={"nonce": "n1"}
    )
    sent.refresh_from_db()
    assert sent.delivered_at is not None
    assert sent.reply == {"status": "processed", "reply": {"pong": "n1", "recipient": "330000"}}

    # 2. The same message again (a retry after a lost acknowledgement) changes nothing there.
    request = urllib.request.Request(  # noqa: S310
        f"{zhejiang.url}/api/v1/interchange/messages",
        data=sent.body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            interchange.SENDER_HEADER: "440000",
            interchange.SIGNATURE_HEADER: base64.b64encode(bytes.fromhex(sent.signature)).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert json.loads(response.read())["status"] == "duplicate"
    assert len(zhejiang.inbox()) == 1

    # 3. Zhejiang is down: the message waits in the outbox with a backoff, then goes through.
    zhejiang.stop()
    lost = interchange.message_send(
        sender="440000", recipient="330000", kind="interchange.ping", payload={"nonce": "n2"}
    )
    lost.refresh_from_db()
    assert lost.delivered_at is None
    assert lost.attempts == 1 and lost.last_error
    assert interchange.outbox_deliver_due() == 0  # not due yet
    zhejiang.start()
    with time_machine.travel(lost.next_attempt_at + timedelta(seconds=1)):
        assert interchange.outbox_deliver_due() == 1
    lost.refresh_from_db()
    assert lost.delivered_at is not None and lost.attempts == 2
    inbox = zhejiang.inbox()
    assert [m["reply"]["pong"] for m in inbox] == ["n1", "n2"]
    assert OutboundMessage.objects.filter(delivered_at__isnull=True).count() == 0
    assert Peer.objects.get(code="330000").base_url == zhejiang.url
