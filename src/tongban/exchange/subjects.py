"""Pseudonyms of data subjects: matchable, not readable."""

from __future__ import annotations

from django.conf import settings

from tongban.core.crypto import keyed_sm3_hex
from tongban.core.masking import mask


def subject_key(subject: str) -> str:
    """Keyed SM3 pseudonym of a subject's ID number or USCC: matchable, not readable."""
    return keyed_sm3_hex(settings.SECRET_KEY.encode() + b":exchange-subject", subject.encode())


def subject_masked(subject: str) -> str:
    if len(subject) == 18 and subject[:17].isdigit():
        return mask(subject, "id_number")
    return mask(subject, "uscc")
