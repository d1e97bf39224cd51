"""The shape of the code (ADR 0020): no module uses another module's `_private` names, and
every state-bearing model keeps its state through django-fsm."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django_fsm import FSMField

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tongban"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module an `ImportFrom` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


# Django's documented model API, underscored only to stay out of the way of field names.
DJANGO_PUBLIC = {"_meta", "_default_manager", "_base_manager"}


def _private(name: str) -> bool:
    dunder = name.startswith("__") and name.endswith("__")
    return name.startswith("_") and not dunder and name not in DJANGO_PUBLIC


def private_uses(path: Path) -> list[str]:
    """`from other import _name` and `other_module._name`, where `other` is not this module."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    imported_modules: dict[str, str] = {}  # local name → module, for `import x as y`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, path.name == "__init__.py")
            if source == module or source == "__future__":
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{module}:{node.lineno} from {source} import {alias.name}")
                elif source.startswith("tongban"):
                    imported_modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tongban"):
                    imported_modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
            and _private(node.attr)
        ):
            found.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    violations = [
        use
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        for use in private_uses(path)
    ]
    assert violations == []


def test_the_checker_finds_private_imports(tmp_path: Path) -> None:
    package = tmp_path / "tongban" / "sample"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    module = package / "user.py"
    module.write_text(
        "from __future__ import annotations\n"
        "from .services import _hidden, public\n"
        "from tongban.core import audit\n"
        "audit._append_optimistic()\n"
        "def _own() -> None: ...\n"
        "_own()\n"
    )
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        assert private_uses(module) == [
            "tongban.sample.user:2 from tongban.sample.services import _hidden",
            "tongban.sample.user:4 audit._append_optimistic",
        ]
    finally:
        SRC = saved


STATEFUL = {
    # model label → its state field
    "cases.Case": "status",
    "cases.ReceivedApplication": "stage",
    "cases.AssistTask": "status",
    "licenses.License": "status",
    "core.EventDelivery": "status",
    "cases.ReceivedPart": "stage",
    "exchange.Grant": "status",
}


@pytest.mark.parametrize("label", sorted(STATEFUL))
def test_state_bearing_models_keep_their_state_through_django_fsm(label: str) -> None:
    field = apps.get_model(label)._meta.get_field(STATEFUL[label])
    assert isinstance(field, FSMField)
    assert field.protected, f"{label}.{field.name} can be assigned directly"
