"""Signed notes, checkpoints and cosignatures (tongban.ledger.note)."""

from __future__ import annotations

import base64

import pytest

from tongban.ledger.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteError,
    SM2Signer,
    SM2Verifier,
    checkpoint_open,
    checkpoint_parse,
    cosignature_sign,
    cosignature_verify,
    key_id,
    note_add_signatures,
    note_parse,
    note_sign,
    note_verify,
    signer_from_skey,
    verifier_from_vkey,
)

# The example of Go's golang.org/x/mod/sumdb/note documentation: its keys and signed note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "gd.example.gov.cn/licenses"
ROOT = bytes(range(32))


def test_go_sumdb_note_example_is_reproduced_byte_for_byte() -> None:
    signer = signer_from_skey(GO_SKEY)
    assert signer.vkey() == GO_VKEY
    assert note_sign(GO_TEXT, [signer]) == GO_TEXT + "\n" + GO_SIGNATURE
    body, names = note_verify(GO_TEXT + "\n" + GO_SIGNATURE, [verifier_from_vkey(GO_VKEY)])
    assert (body, names) == (GO_TEXT, ["PeterNeumann"])


def test_checkpoint_body_and_parse_round_trip() -> None:
    checkpoint = Checkpoint(ORIGIN, 12345, ROOT, ("extension one",))
    body = checkpoint.body()
    assert body == f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\nextension one\n"
    assert checkpoint_parse(body) == checkpoint
    assert checkpoint_parse(Checkpoint(ORIGIN, 0, ROOT).body()).size == 0


@pytest.mark.parametrize(
    "body",
    [
        "",
        "origin\n1\n",
        f"origin\n01\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"origin\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"origin\n1\n{base64.b64encode(ROOT).decode()}",  # no final newline
        "origin\n1\nnot base64!\n",
        f"origin\n1\n{base64.b64encode(b'short').decode()}\n",
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",
        f"origin\n1\n{base64.b64encode(ROOT).decode()}\n\nx\n",
    ],
)
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(NoteError):
        checkpoint_parse(body)


@pytest.mark.parametrize("make", [Ed25519Signer.generate, SM2Signer.generate])
def test_checkpoint_signed_and_verified_with_each_algorithm(make: object) -> None:
    signer = make(ORIGIN)  # type: ignore[operator]
    verifier = verifier_from_vkey(signer.vkey())
    assert type(verifier) is (Ed25519Verifier if isinstance(signer, Ed25519Signer) else SM2Verifier)
    assert verifier.key_id == signer.key_id
    note = note_sign(Checkpoint(ORIGIN, 7, ROOT).body(), [signer])
    assert checkpoint_open(note, [verifier], ORIGIN) == Checkpoint(ORIGIN, 7, ROOT)
    with pytest.raises(NoteError, match="origin"):
        checkpoint_open(note, [verifier], "another.example/log")
    # the private key survives its skey text (the key file format)
    assert signer_from_skey(signer.skey()).vkey() == signer.vkey()


def test_sm2_key_type_and_key_id_follow_the_documented_encoding() -> None:
    signer = SM2Signer.generate(ORIGIN)
    name, identifier, encoded = signer.vkey().split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[:8] == b"\xffsm2-sm3" and len(raw) == 8 + 64
    assert identifier == key_id(ORIGIN, b"\xffsm2-sm3", raw[8:]).hex()
    assert name == ORIGIN


def test_both_signatures_check_and_a_note_by_an_unknown_key_is_refused() -> None:
    ed, sm2 = Ed25519Signer.generate(ORIGIN), SM2Signer.generate(ORIGIN)
    note = note_sign(Checkpoint(ORIGIN, 3, ROOT).body(), [ed, sm2])
    _, names = note_verify(note, [ed.verifier(), sm2.verifier()])
    assert names == [ORIGIN, ORIGIN]
    _, names = note_verify(note, [sm2.verifier()])  # one trusted key is enough
    assert names == [ORIGIN]
    stranger = Ed25519Signer.generate(ORIGIN)  # same name, other key
    with pytest.raises(NoteError, match="no trusted key"):
        note_verify(note, [stranger.verifier()])
    forged = note_sign(Checkpoint(ORIGIN, 3, ROOT).body(), [stranger])
    with pytest.raises(NoteError, match="no trusted key"):
        note_verify(forged, [ed.verifier(), sm2.verifier()])


def test_a_changed_body_or_signature_is_refused() -> None:
    ed = Ed25519Signer.generate(ORIGIN)
    note = note_sign(Checkpoint(ORIGIN, 3, ROOT).body(), [ed])
    with pytest.raises(NoteError, match="invalid signature"):
        note_verify(note.replace("\n3\n", "\n4\n"), [ed.verifier()])
    body, signatures = note_parse(note)
    bad = bytearray(signatures[0].signature)
    bad[0] ^= 1
    line = f"— {ORIGIN} {base64.b64encode(ed.key_id + bytes(bad)).decode()}\n"
    with pytest.raises(NoteError, match="invalid signature"):
        note_verify(body + "\n" + line, [ed.verifier()])


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no signatures\n",
        "text\n\n",
        "text\n\n— name notbase64!\n",
        "text\n\n-- name AAAAAAAA\n",
        "text\n\n— name AAAA\n",  # shorter than a key id
        "text\n\n— name AAAAAAAA",  # no final newline
        "text\n\n— name\n",
    ],
)
def test_malformed_notes_raise_note_error(note: str) -> None:
    with pytest.raises(NoteError):
        note_verify(note, [Ed25519Signer.generate("name").verifier()])


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name",
        "name+00000000",
        "name+00000000+AQ==",  # key too short
        GO_VKEY.replace("c74f20a3", "c74f20a4"),  # key id does not match
        GO_VKEY[:-2],
        "name+00000000+BwAAAA==",  # unknown type
        "bad name+00000000+" + GO_VKEY.split("+", 2)[2],
    ],
)
def test_malformed_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        verifier_from_vkey(vkey)


def test_cosignature_round_trip() -> None:
    log = Ed25519Signer.generate(ORIGIN)
    note = note_sign(Checkpoint(ORIGIN, 9, ROOT).body(), [log])
    witness = CosignatureSigner.generate("zj.example.gov.cn/witness")
    body, _ = note_parse(note)
    line = cosignature_sign(body=body, signer=witness, timestamp=1_760_000_000)
    assert line.startswith("— zj.example.gov.cn/witness ")
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 8 + 64 and raw[4:12] == (1_760_000_000).to_bytes(8, "big")
    cosigned = note_add_signatures(note, [line])
    verifier = verifier_from_vkey(witness.vkey())
    assert isinstance(verifier, CosignatureVerifier)
    assert base64.b64decode(witness.vkey().split("+", 2)[2])[0] == 0x04
    assert cosignature_verify(note=cosigned, verifier=verifier) == 1_760_000_000
    # the log's own signature still checks; both names come back
    _, names = note_verify(cosigned, [log.verifier(), verifier])
    assert names == [ORIGIN, "zj.example.gov.cn/witness"]
    # a cosignature over another checkpoint does not transfer
    other = note_sign(Checkpoint(ORIGIN, 10, ROOT).body(), [log])
    with pytest.raises(NoteError, match="invalid cosignature"):
        cosignature_verify(note=note_add_signatures(other, [line]), verifier=verifier)
    with pytest.raises(NoteError, match="no cosignature"):
        cosignature_verify(note=note, verifier=verifier)
    # a plain Ed25519 log key is not a cosignature key
    with pytest.raises(NoteError):
        cosignature_verify(note=cosigned, verifier=log.verifier())
