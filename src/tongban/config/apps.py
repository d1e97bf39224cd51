from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "tongban.config"

    def ready(self) -> None:
        from .events import wire

        wire()
