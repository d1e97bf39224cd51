"""Canonical JSON of licence data, log events and presentations (pure, no Django).

The bytes that are signed and hashed are produced by one function, `canonical_json`:
- object keys sorted by their UTF-16 code units (RFC 8785 §3.2.3; for the BMP text of
  licences this is the same as code-point order);
- UTF-8, no byte-order mark, no insignificant whitespace (`,` and `:` separators only);
- strings escaped as ECMAScript's JSON.stringify does: `"` and `\\` and control characters
  (\\b \\f \\n \\r \\t or \\u00xx, lower-case hex); everything else literal;
- values are only objects, arrays, strings, integers within ±(2^53 − 1), true, false and
  null. Floating-point numbers are refused: RFC 8785's number serialisation is the one part
  that differs between implementations, and licence data does not need it.

For such data the output is byte-for-byte what an RFC 8785 (JCS) implementation produces, so
a verifier in another language can recompute it with any JCS library.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    """A value that has no canonical form here (float, unsafe integer, lone surrogate...)."""


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise CanonicalError(f"{path}: text is not valid Unicode") from None
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalError(f"{path}: integer outside ±(2^53 − 1)")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: object keys must be strings")
            _check(key, path)
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check(item, f"{path}[{position}]")
        return
    raise CanonicalError(f"{path}: {type(value).__name__} has no canonical JSON form")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _sorted(value[key])
            for key in sorted(value, key=lambda text: text.encode("utf-16-be"))
        }
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of `value` (see the module docstring)."""
    _check(value, "$")
    # Keys are pre-sorted (UTF-16 order), so json must not re-sort them by code point.
    text = json.dumps(_sorted(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")
