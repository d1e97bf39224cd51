from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "tongban.config"

    def ready(self) -> None:
        from . import ratelimit  # noqa: F401 — registers its deploy check
        from .events import wire

        wire()
