"""Signed, idempotent messages between regions (跨省通办 hand-offs and status sync).

A message is an envelope of UTF-8 JSON — ``{"v": 1, "id", "sender", "recipient", "kind",
"sent_at", "payload"}`` — signed as bytes with the sending region's SM2 key (SM3withSM2);
the signature covers exactly the bytes sent, so no canonical form is needed.

- Sending (`message_send`) stores the message in the outbox inside the caller's transaction;
  delivery starts after commit and is retried with exponential backoff until the peer
  acknowledges it (`outbox_deliver_due`, a periodic task), so a lost message is sent again.
- Receiving (`message_receive`) checks the sender's key and the recipient, then records the
  message and runs its handler in one transaction; (sender, id) is unique, so a retried or
  duplicated message is answered with the first reply and never processed twice.
- A region tenant of the same deployment is a `Peer` without a URL: its messages take the same
  path — signed bytes, the same checks, the same inbox — only without HTTP.

Outer apps register a handler per message kind (`handler_register`, wired in
``tongban.config.events``); a handler returns a small JSON reply.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tongban.core import audit, clock
from tongban.core.crypto import key_fingerprint, sm2_keypair, sm2_sign, sm2_verify
from tongban.core.errors import DomainError
from tongban.core.keys import sm2_key, sm2_key_promote, sm2_key_stage
from tongban.core.registry import Registry

from . import errors
from .models import InboundMessage, OutboundMessage, Peer

logger = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
KEY_PURPOSE = "interchange"
SENDER_HEADER = "X-Tongban-Sender"
SIGNATURE_HEADER = "X-Tongban-Signature"

Handler = Callable[[str, str, dict[str, Any]], dict[str, Any]]
HANDLERS: Registry[Handler] = Registry("interchange message handler")


def _max_body_bytes() -> int:
    """A message may be as large as a request body may be (hand-offs carry materials)."""
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


def handler_register(kind: str, handler: Handler) -> None:
    """`handler(sender, recipient, payload) -> reply`; runs inside the receiving transaction."""
    HANDLERS.register(kind, handler)


def local_regions() -> list[str]:
    return list(settings.TONGBAN["REGION_CODES"])


def region_public_key(code: str) -> str:
    """The SM2 public key a local region signs with (for peers to configure)."""
    if code not in local_regions():
        raise errors.UNKNOWN_REGION.error(region=code)
    return sm2_key(KEY_PURPOSE, code)[1]


# ---------------------------------------------------------------- sending


@transaction.atomic
def message_send(
    *, sender: str, recipient: str, kind: str, payload: dict[str, Any]
) -> OutboundMessage:
    """Queue a signed message; it is delivered after the caller's transaction commits."""
    if sender not in local_regions():
        raise errors.SENDER_NOT_SERVED.error(sender=sender)
    peer = Peer.objects.filter(code=recipient, is_active=True).first()
    if peer is None:
        raise errors.UNKNOWN_PEER.error(recipient=recipient)
    now = clock.now()
    message_id = uuid.uuid4()
    body = json.dumps(
        {
            "v": ENVELOPE_VERSION,
            "id": str(message_id),
            "sender": sender,
            "recipient": recipient,
            "kind": kind,
            "sent_at": now.isoformat(),
            "payload": payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    private_hex, _ = sm2_key(KEY_PURPOSE, sender)
    message = OutboundMessage.objects.create(
        id=message_id,
        sender=sender,
        peer=peer,
        kind=kind,
        body=body,
        signature=sm2_sign(private_hex, body.encode()).hex(),
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(lambda: _deliver_later(str(message_id)), robust=True)
    return message


def _deliver_later(message_id: str) -> None:
    from .tasks import outbox_deliver  # the Celery task (eager in the embedded default)

    outbox_deliver.delay(message_id)


def _backoff(attempts: int) -> timedelta:
    limit = int(settings.TONGBAN["INTERCHANGE_MAX_BACKOFF_S"])
    return timedelta(seconds=min(limit, 5 * 2 ** max(attempts - 1, 0)))


def message_deliver(*, message_id: str) -> bool:
    """Try to deliver one message now; True when the peer has acknowledged it."""
    message = OutboundMessage.objects.select_related("peer").filter(pk=message_id).first()
    if message is None or message.delivered_at is not None:
        return message is not None
    try:
        reply = _transport(message)
    except DomainError as error:
        _resign_if_refused(message, error.code)
        return _record_failure(message, f"{error.code}: {error.message}")
    except (OSError, ValueError) as error:
        _resign_if_refused(message, str(error))
        return _record_failure(message, f"{type(error).__name__}: {error}")
    OutboundMessage.objects.filter(pk=message.pk, delivered_at__isnull=True).update(
        delivered_at=clock.now(), attempts=message.attempts + 1, reply=reply, last_error=""
    )
    return True


def _resign_if_refused(message: OutboundMessage, error: str) -> None:
    """A peer refused the signature: the message may have been signed with a key rotated away
    since (sent while the rotation ran, or its peer no longer accepts the previous key).
    Sign it again with the current key, so the next attempt can succeed."""
    if errors.BAD_SIGNATURE.code not in error:
        return
    private_hex, public_hex = sm2_key(KEY_PURPOSE, message.sender)
    if sm2_verify(public_hex, message.body.encode(), bytes.fromhex(message.signature)):
        return  # already the current key's: the refusal is the peer's to explain
    signature = sm2_sign(private_hex, message.body.encode()).hex()
    OutboundMessage.objects.filter(pk=message.pk, delivered_at__isnull=True).update(
        signature=signature
    )


def _record_failure(message: OutboundMessage, error: str) -> bool:
    attempts = message.attempts + 1
    OutboundMessage.objects.filter(pk=message.pk, delivered_at__isnull=True).update(
        attempts=attempts,
        next_attempt_at=clock.now() + _backoff(attempts),
        last_error=error[:500],
    )
    logger.warning("message %s to %s not delivered: %s", message.pk, message.peer_id, error)
    return False


def _transport(message: OutboundMessage) -> dict[str, Any]:
    body, signature = message.body.encode(), bytes.fromhex(message.signature)
    if message.peer.is_local:
        return message_receive(sender=message.sender, body=body, signature=signature).reply
    request = urllib.request.Request(  # noqa: S310 - the URL is an administrator's peer config
        message.peer.base_url.rstrip("/") + "/api/v1/interchange/messages",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            SENDER_HEADER: message.sender,
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        },
    )
    timeout = float(settings.TONGBAN["INTERCHANGE_TIMEOUT_S"])
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply = json.loads(response.read(_max_body_bytes()))
    except urllib.error.HTTPError as error:
        detail = error.read(2000).decode("utf-8", "replace")
        raise ValueError(f"HTTP {error.code} {detail}") from error
    if not isinstance(reply, dict) or reply.get("status") not in {"processed", "duplicate"}:
        raise ValueError(f"unexpected reply {reply!r:.200}")
    return reply


def outbox_deliver_due(*, limit: int = 100) -> int:
    """Deliver messages whose next attempt is due (periodic); returns how many got through."""
    due = list(
        OutboundMessage.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=clock.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(message_deliver(message_id=str(pk)) for pk in due)


# ---------------------------------------------------------------- receiving


@dataclass(frozen=True)
class Received:
    status: str  # "processed" or "duplicate"
    reply: dict[str, Any]


def decode_signature(value: str) -> bytes:
    try:
        return base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise errors.BAD_SIGNATURE.error() from None


def message_receive(*, sender: str, body: bytes, signature: bytes) -> Received:
    """Check and process a message from a peer, exactly once per (sender, id)."""
    peer = Peer.objects.filter(code=sender, is_active=True).first()
    if peer is None:
        raise errors.UNKNOWN_SENDER.error(sender=sender)
    if len(body) > _max_body_bytes():
        raise errors.MESSAGE_TOO_LARGE.error()
    signed_with = _signed_with(peer, body, signature)
    if signed_with is None:
        with transaction.atomic():
            audit.audit_record_append(
                actor=f"peer:{sender}",
                action="interchange.receive",
                outcome=audit.Outcome.DENIED,
                detail={"reason": "bad_signature"},
            )
        raise errors.BAD_SIGNATURE.error()
    envelope = _parse(body, sender)
    handler = HANDLERS.get(envelope["kind"])
    if handler is None:
        raise errors.UNKNOWN_KIND.error(kind=envelope["kind"])
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                sender=sender,
                recipient=envelope["recipient"],
                message_id=envelope["id"],
                kind=envelope["kind"],
                payload=envelope["payload"],
                received_at=clock.now(),
            )
            message.reply = handler(sender, envelope["recipient"], envelope["payload"])
            message.save(update_fields=["reply"])
            audit.audit_record_append(
                actor=f"peer:{sender}",
                action="interchange.receive",
                object_type="message",
                object_id=str(message.message_id),
                detail={
                    "kind": message.kind,
                    "recipient": message.recipient,
                    **({"signed_with": signed_with} if signed_with != "current" else {}),
                },
            )
    except IntegrityError:
        first = InboundMessage.objects.filter(sender=sender, message_id=envelope["id"]).first()
        if first is None:  # an integrity error of the handler's own, not a duplicate
            raise
        return Received("duplicate", first.reply)
    return Received("processed", message.reply)


def _signed_with(peer: Peer, body: bytes, signature: bytes) -> str | None:
    """ "current" or "previous" (a key the peer rotated away from, within its grace period)
    for a good signature; None otherwise."""
    if sm2_verify(peer.public_key, body, signature):
        return "current"
    if (
        peer.previous_public_key
        and peer.previous_key_until is not None
        and clock.now() < peer.previous_key_until
        and sm2_verify(peer.previous_public_key, body, signature)
    ):
        return "previous"
    return None


def _parse(body: bytes, sender: str) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
        uuid.UUID(str(envelope["id"]))
        fields = {k: envelope[k] for k in ("v", "sender", "recipient", "kind", "payload")}
    except (ValueError, KeyError, TypeError):
        raise errors.BAD_ENVELOPE.error() from None
    if fields["v"] != ENVELOPE_VERSION or not isinstance(fields["payload"], dict):
        raise errors.BAD_ENVELOPE.error()
    if fields["sender"] != sender:
        raise errors.SENDER_MISMATCH.error()
    if fields["recipient"] not in local_regions():
        raise errors.WRONG_RECIPIENT.error(recipient=fields["recipient"])
    return {**fields, "id": str(envelope["id"])}


def _ping(sender: str, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Built-in kind for checking a peer link end to end (signature, route, inbox)."""
    return {"pong": payload.get("nonce", ""), "recipient": recipient}


handler_register("interchange.ping", _ping)


@transaction.atomic
def peer_save(
    *,
    code: str,
    name: str,
    base_url: str,
    public_key: str,
    keep_previous: bool = True,
    activate: bool = True,
) -> Peer:
    """Add or update a peer (an administrator's decision: check the key's fingerprint).
    A changed key keeps the old one accepted for INTERCHANGE_KEY_GRACE_DAYS: messages the peer
    signed before it rotated may still arrive. `keep_previous=False` (the old key leaked)
    drops any previous key at once. `activate=False` leaves an existing peer's on/off state."""
    from tongban.core.crypto import SM2KeyError, sm2_public_key_normalise

    try:
        key = sm2_public_key_normalise(public_key)
    except SM2KeyError as error:
        raise errors.BAD_PUBLIC_KEY.error(reason=error) from None
    with transaction.atomic():
        peer = Peer.objects.select_for_update().filter(code=code).first()
        previous = peer.public_key if peer is not None and peer.public_key != key else ""
        revoking = not keep_previous and bool(
            previous or (peer is not None and peer.previous_public_key)
        )
        defaults: dict[str, Any] = {"name": name, "base_url": base_url, "public_key": key}
        if activate or peer is None:
            defaults["is_active"] = True
        if not keep_previous:
            defaults |= {"previous_public_key": "", "previous_key_until": None}
        elif previous:
            grace = timedelta(days=float(settings.TONGBAN["INTERCHANGE_KEY_GRACE_DAYS"]))
            defaults |= {"previous_public_key": previous, "previous_key_until": clock.now() + grace}
        peer, _ = Peer.objects.update_or_create(code=code, defaults=defaults)
        audit.audit_record_append(
            actor="admin",
            action="interchange.peer_save",
            object_type="peer",
            object_id=code,
            detail={
                "base_url": base_url,
                "key_sm3": key_fingerprint(key),
                **(
                    {"previous_key_sm3": key_fingerprint(previous)}
                    if previous and keep_previous
                    else {}
                ),
                **({"previous_key_revoked": True} if revoking else {}),
            },
        )
    return peer


def region_key_rotate(*, code: str, actor: str) -> tuple[str, str]:
    """Replace the signing key of a local region; (old public key, new public key).

    Messages still in the outbox are signed again with the new key, and a region tenant of
    this deployment learns the new key at once, in one transaction; the new key file is put
    in place only when that commits, so a failed rotation changes nothing. Remote peers learn
    it when their administrator runs `peer_add --fetch-key` (comparing the fingerprint): until
    then they refuse the new signatures and the outbox retries with backoff, so nothing is
    lost; afterwards they still accept the old key for their grace period, for a message
    signed just before the rotation (unless told the old key leaked: --revoke-previous).
    """
    if code not in local_regions():
        raise errors.UNKNOWN_REGION.error(region=code)
    old_public = region_public_key(code)
    private_hex, new_public = sm2_keypair()
    # On disk (fsync) before the database says "new key": should promoting it after the commit
    # fail, the key is not lost — the pending file is named in the log, to put in place by hand.
    pending = sm2_key_stage(KEY_PURPOSE, code, private_hex)

    def promote() -> None:
        try:
            sm2_key_promote(KEY_PURPOSE, code, pending)
        except OSError:
            logger.exception(
                "rotated key of region %s committed but not put in place: move %s over %s.sm2",
                code,
                pending,
                code,
            )
            raise

    try:
        _rotate_in_database(code, actor, private_hex, old_public, new_public, promote)
    except BaseException:
        pending.unlink(missing_ok=True)  # nothing committed: nothing to put in place
        raise
    return old_public, new_public


def _rotate_in_database(
    code: str,
    actor: str,
    private_hex: str,
    old_public: str,
    new_public: str,
    promote: Callable[[], None],
) -> None:
    with transaction.atomic():
        pending = OutboundMessage.objects.select_for_update().filter(
            sender=code, delivered_at__isnull=True
        )
        resigned = 0
        for message in pending:
            message.signature = sm2_sign(private_hex, message.body.encode()).hex()
            message.save(update_fields=["signature"])
            resigned += 1
        local = Peer.objects.filter(code=code, base_url="").first()
        if local is not None:
            peer_save(
                code=code, name=local.name, base_url="", public_key=new_public, activate=False
            )
        audit.audit_record_append(
            actor=actor,
            action="interchange.key_rotate",
            object_type="region",
            object_id=code,
            detail={
                "old_key_sm3": key_fingerprint(old_public),
                "new_key_sm3": key_fingerprint(new_public),
                "resigned": resigned,
            },
        )
        transaction.on_commit(promote)
