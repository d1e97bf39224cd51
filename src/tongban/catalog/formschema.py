"""Application form schemas: a JSON Schema subset, checked on save, validated per field.

The subset: an object of flat properties, each of type string, integer, number or boolean,
with title, description, enum, minLength, maxLength, minimum, maximum, pattern and format
(date, phone, id_number, uscc, email), and the annotation "x-element": the code of the shared
data element (数据元, e.g. person.name) that can fill and verify the field (issue 5).
`jsonschema` checks that a schema stays inside the subset; submitted data is validated here
so each field gets its own message in Chinese.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jsonschema
from django.utils.translation import gettext_lazy as _

from tongban.core.errors import DomainError
from tongban.core.ids import validate_resident_id, validate_uscc

from . import errors

FORMATS = ("date", "phone", "id_number", "uscc", "email")
ELEMENT_CODE_PATTERN = r"^[a-z][a-z_]*\.[a-z][a-z0-9_]*$"

META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "properties"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "object"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "required": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "properties": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,49}$"},
            "additionalProperties": {
                "type": "object",
                "required": ["type", "title"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["string", "integer", "number", "boolean"]},
                    "title": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "format": {"enum": list(FORMATS)},
                    "enum": {"type": "array", "minItems": 1},
                    "minLength": {"type": "integer", "minimum": 0},
                    "maxLength": {"type": "integer", "minimum": 1},
                    "minimum": {"type": "number"},
                    "maximum": {"type": "number"},
                    "pattern": {"type": "string"},
                    # 数据元: the shared data element that can fill and verify this field.
                    "x-element": {"type": "string", "pattern": ELEMENT_CODE_PATTERN},
                },
            },
        },
    },
}

_PHONE = re.compile(r"^1\d{10}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_MAX_LENGTH = 500


def schema_check(schema: dict[str, Any]) -> None:
    """Raise InvalidInput when a form schema leaves the supported subset."""
    try:
        jsonschema.validate(schema, META_SCHEMA)
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or _("(根)")
        raise errors.FORM_SCHEMA_INVALID.error(where=where, reason=error.message) from error
    unknown = set(schema.get("required", [])) - set(schema["properties"])
    if unknown:
        raise errors.FORM_SCHEMA_REQUIRED_UNKNOWN.error(names="、".join(sorted(unknown)))
    for name, spec in schema["properties"].items():
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as error:
                raise errors.FORM_SCHEMA_PATTERN_INVALID.error(name=name) from error


@dataclass(frozen=True)
class FieldSpec:
    name: str
    title: str
    type: str
    required: bool
    description: str = ""
    format: str = ""
    choices: list[Any] = field(default_factory=list)
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str = ""
    element: str = ""

    @property
    def input_type(self) -> str:
        if self.format == "date":
            return "date"
        if self.format == "email":
            return "email"
        if self.format == "phone":
            return "tel"
        if self.type in {"integer", "number"}:
            return "number"
        return "text"


def form_fields(schema: dict[str, Any]) -> list[FieldSpec]:
    required = set(schema.get("required", []))
    return [
        FieldSpec(
            name=name,
            title=spec["title"],
            type=spec["type"],
            required=name in required,
            description=spec.get("description", ""),
            format=spec.get("format", ""),
            choices=list(spec.get("enum", [])),
            min_length=spec.get("minLength"),
            max_length=spec.get(
                "maxLength", DEFAULT_MAX_LENGTH if spec["type"] == "string" else None
            ),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            pattern=spec.get("pattern", ""),
            element=spec.get("x-element", ""),
        )
        for name, spec in schema["properties"].items()
    ]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean(spec: FieldSpec, raw: Any) -> Any:
    """Return the cleaned value or raise ValueError with the message (in the active language)."""
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {"true", "on", "1", "是"}:
            return True
        if isinstance(raw, str) and raw.lower() in {"false", "off", "0", "否", ""}:
            return False
        raise ValueError(_("请选择“是”或“否”"))
    if spec.type in {"integer", "number"}:
        if isinstance(raw, bool):
            raise ValueError(_("请填写数字"))
        try:
            number = float(raw) if spec.type == "number" else int(str(raw).strip())
        except (TypeError, ValueError):
            raise ValueError(
                _("请填写整数") if spec.type == "integer" else _("请填写数字")
            ) from None
        if spec.type == "number" and not math.isfinite(number):  # NaN, ±Infinity
            raise ValueError(_("请填写数字"))
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(_("不能小于 %(minimum)s") % {"minimum": f"{spec.minimum:g}"})
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(_("不能大于 %(maximum)s") % {"maximum": f"{spec.maximum:g}"})
        value: Any = number
    else:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise ValueError(_("请填写文字"))
        value = str(raw).strip()
        if "\x00" in value:  # PostgreSQL stores no NUL in text or JSON
            raise ValueError(_("不能包含控制字符"))
        if spec.min_length is not None and len(value) < spec.min_length:
            raise ValueError(_("至少 %(length)s 个字") % {"length": spec.min_length})
        if spec.max_length is not None and len(value) > spec.max_length:
            raise ValueError(_("不能超过 %(length)s 个字") % {"length": spec.max_length})
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            raise ValueError(_("格式不正确"))
        value = _clean_format(spec.format, value)
    if spec.choices and value not in spec.choices:
        choices = "、".join(str(c) for c in spec.choices)
        raise ValueError(_("请从列表中选择：%(choices)s") % {"choices": choices})
    return value


def _clean_format(fmt: str, value: str) -> str:
    if fmt == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(_("请填写有效日期（年-月-日）")) from None
    if fmt == "phone" and not _PHONE.match(value):
        raise ValueError(_("手机号码应为以1开头的11位数字"))
    if fmt == "email" and not _EMAIL.match(value):
        raise ValueError(_("电子邮箱格式不正确"))
    if fmt in {"id_number", "uscc"}:
        try:
            return validate_resident_id(value) if fmt == "id_number" else validate_uscc(value)
        except DomainError as error:
            raise ValueError(error.message) from None
    return value


def validate_form_data(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Validate submitted form data; raise InvalidInput with one message per bad field."""
    if not isinstance(data, dict):
        raise errors.FORM_NOT_OBJECT.error()
    fields = form_fields(schema)
    known = {spec.name for spec in fields}
    problems: dict[str, str] = {
        name: str(_("申请表中没有此字段")) for name in data if name not in known
    }
    cleaned: dict[str, Any] = {}
    for spec in fields:
        raw = data.get(spec.name)
        if _is_blank(raw) and not (spec.type == "boolean" and raw is not None):
            if spec.required:
                problems[spec.name] = _("请填写“%(title)s”") % {"title": spec.title}
            continue
        try:
            cleaned[spec.name] = _clean(spec, raw)
        except ValueError as error:
            problem = str(error)
            problems[spec.name] = (
                _("“%(title)s”%(problem)s") % {"title": spec.title, "problem": problem}
                if not problem.startswith("“")
                else problem
            )
    if problems:
        raise errors.FORM_INVALID.error(fields=problems)
    return cleaned
