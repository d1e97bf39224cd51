"""Error codes are named once per app, one message per code, every message translated (ADR
0020): no module outside an `errors.py` makes up a code and a message on the spot."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from tongban.core.errors import DomainError, ErrorCode

SRC = Path(__file__).resolve().parents[1] / "src" / "tongban"
APPS = sorted(
    path.name
    for path in SRC.iterdir()
    if path.is_dir() and (path / "__init__.py").exists() and path.name not in {"config", "locale"}
)
ERROR_MODULES = {"core": "tongban.core.errors"}


def _error_classes() -> set[str]:
    """Names of DomainError and every subclass defined anywhere in the platform."""
    for path in SRC.rglob("*.py"):
        if {"migrations", "config"} & set(path.parts) or path.name == "__main__.py":
            continue
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        importlib.import_module(module.removesuffix(".__init__"))
    names, pending = set(), [DomainError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def _code_like(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.replace("_", "").isalpha()
        and node.value.islower()
    )


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def codes_made_up(path: Path, error_classes: set[str]) -> list[str]:
    """`SomeError("code", message)` (or a helper given the class and a code) outside errors.py."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        direct = _name(node.func) in error_classes and _code_like(node.args[0])
        passed = (
            len(node.args) > 1 and _name(node.args[0]) in error_classes and _code_like(node.args[1])
        )
        if direct or passed:
            literal = node.args[0] if direct else node.args[1]
            assert isinstance(literal, ast.Constant)
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {literal.value}")
    return found


@pytest.fixture(scope="module")
def error_classes() -> set[str]:
    return _error_classes()


@pytest.mark.parametrize("app", APPS)
def test_codes_are_named_in_the_apps_errors_module(app: str, error_classes: set[str]) -> None:
    made_up = [
        use
        for path in sorted((SRC / app).rglob("*.py"))
        if "migrations" not in path.parts and path.name != "errors.py"
        for use in codes_made_up(path, error_classes)
    ]
    assert made_up == []


def _codes(app: str) -> list[ErrorCode]:
    name = ERROR_MODULES.get(app, f"tongban.{app}.errors")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        return []
    return [value for value in vars(module).values() if isinstance(value, ErrorCode)]


@pytest.mark.parametrize("app", APPS)
def test_each_code_is_named_once_with_one_translated_message(app: str) -> None:
    codes = _codes(app)
    names = [code.code for code in codes]
    assert len(names) == len(set(names)), f"codes named twice: {sorted(names)}"
    untranslated = []
    for code in codes:
        with translation.override("zh-hans"):  # whatever an earlier test left active
            chinese = str(code.message)
        with translation.override("en"):
            english = str(code.message)
        if english == chinese or not english.isascii():
            untranslated.append(code.code)
    assert untranslated == []


def test_the_english_pages_and_api_show_english_errors(db: None) -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    response = client.post(
        "/api/v1/auth/token", {"username": "x", "password": "y"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["message"].isascii()
    with translation.override("zh-hans"):
        chinese = Client().post(
            "/api/v1/auth/token",
            {"username": "x", "password": "y"},
            content_type="application/json",
        )
    assert not chinese.json()["message"].isascii()


def test_the_api_honours_accept_language_and_the_pages_do_not(db: None) -> None:
    body = {"username": "x", "password": "y"}
    english = Client().post(
        "/api/v1/auth/token", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en-US"
    )
    assert english["Content-Language"] == "en" and english.json()["message"].isascii()
    chinese = Client().post(
        "/api/v1/auth/token", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert chinese["Content-Language"] == "zh-hans"
    page = Client().get("/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert page["Content-Language"] == "zh-hans"  # a page changes language only when asked


def _po_entries(path: Path) -> dict[tuple[str, str], str]:
    """(context, msgid) → msgstr of a .po file (plain entries; enough for our catalogs)."""
    import json
    import re

    def text(group: str) -> str:
        return "".join(json.loads(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', group))

    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        match = re.search(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        context = re.search(r'^msgctxt ((?:".*"\n)+)', block + "\n", re.M)
        if match:
            msgid, msgstr = text(match.group(1)), text(match.group(2))
            if msgid and msgstr and "#, fuzzy" not in block:
                entries[(text(context.group(1)) if context else "", msgid)] = msgstr
    return entries


@pytest.mark.parametrize(
    "po", sorted(SRC.rglob("locale/*/LC_MESSAGES/django.po")), ids=lambda p: str(p.relative_to(SRC))
)
def test_every_compiled_catalog_is_up_to_date(po: Path) -> None:
    """The .mo files are committed (a fresh clone needs no gettext tools): each must hold
    every translation of its .po."""
    import gettext

    with po.with_suffix(".mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    stale = {
        key: msgstr
        for key, msgstr in _po_entries(po).items()
        if (catalog.pgettext(*key) if key[0] else catalog.gettext(key[1])) != msgstr
    }
    assert stale == {}


def test_the_error_pages_speak_the_pages_language(db: None) -> None:
    english = Client()
    english.cookies["django_language"] = "en"
    page = english.get("/no-such-page/")
    assert page.status_code == 404
    assert "Page not found" in page.content.decode()
    assert "Back to the home page" in page.content.decode()
    chinese = Client().get("/no-such-page/")
    assert "页面不存在" in chinese.content.decode()
