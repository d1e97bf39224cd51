"""Masking of personal data for display and logs (GB/T 35273-2020 §7.2 conventions).

One function, `mask`, used by every list, log line and export that shows personal data.
"""

from __future__ import annotations

import re
from enum import StrEnum


class PersonalData(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"
    USCC = "uscc"


# Province (optional), prefecture (optional), then the county-level unit.
_ADDRESS_KEEP = re.compile(
    r"^((?:.{1,10}?(?:省|自治区))?(?:.{1,10}?(?:市|州|盟|地区))?.{1,10}?(?:区|县|旗|市))"
)


def mask(value: str | None, kind: PersonalData | str) -> str:
    """Return `value` with the identifying part replaced by '*'.

    - ID number: first 6 and last 4 kept — 440106********123X
    - phone: first 3 and last 4 kept — 138****8000
    - name: surname kept — 张*, 张*明 (three characters keep the last one)
    - address: kept down to the county / township, the rest masked
    - USCC (of a sole trader it identifies a person): first 8 and last 2 kept
    """
    if not value:
        return ""
    kind = PersonalData(kind)
    text = str(value)
    if kind is PersonalData.ID_NUMBER:
        return (
            text[:6] + "*" * max(len(text) - 10, 0) + text[-4:]
            if len(text) > 10
            else "*" * len(text)
        )
    if kind is PersonalData.PHONE:
        return (
            text[:3] + "*" * max(len(text) - 7, 0) + text[-4:] if len(text) > 7 else "*" * len(text)
        )
    if kind is PersonalData.NAME:
        if len(text) == 1:
            return "*"
        if len(text) == 2:
            return text[0] + "*"
        return text[0] + "*" * (len(text) - 2) + text[-1]
    if kind is PersonalData.ADDRESS:
        match = _ADDRESS_KEEP.match(text)
        kept = match.group(1) if match else text[: min(6, len(text) // 2)]
        return kept + "*" * max(len(text) - len(kept), 0)
    # USCC
    return (
        text[:8] + "*" * max(len(text) - 10, 0) + text[-2:] if len(text) > 10 else "*" * len(text)
    )
