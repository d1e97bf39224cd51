"""One registry type for every plugin table: event types, event handlers, interchange message
handlers, registry providers.

A registry maps a stable key to a plugin. Registering a key twice with a different plugin is
refused (`AlreadyRegistered`): two apps claiming one name is a wiring bug that must fail at
start-up, not silently replace the first (Open Forms' `plugins/registry.py` does the same).
Registering the same plugin again under its key is a no-op, so a module imported twice or an
`AppConfig.ready` run twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class AlreadyRegistered(Exception):
    """A key is already taken by another plugin."""


class NotRegistered(KeyError):
    """No plugin under this key."""


class Registry(Generic[T]):
    """Named plugins of one kind; `what` names the kind in errors ("event handler")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, key: str, plugin: T) -> T:
        current = self._entries.get(key)
        if current is not None and current != plugin:
            raise AlreadyRegistered(f"{self.what} {key!r} is already registered ({current!r})")
        self._entries[key] = plugin
        return plugin

    def __call__(self, key: str) -> Callable[[T], T]:
        """Decorator form: ``@registry("name")``."""

        def decorate(plugin: T) -> T:
            return self.register(key, plugin)

        return decorate

    def unregister(self, key: str) -> None:
        """Remove a plugin (tests that plug in a stand-in, then take it out)."""
        self._entries.pop(key, None)

    def __getitem__(self, key: str) -> T:
        try:
            return self._entries[key]
        except KeyError:
            raise NotRegistered(f"no {self.what} {key!r}") from None

    def get(self, key: str) -> T | None:
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())
