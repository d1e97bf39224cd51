from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tongban.core"
    verbose_name = "核心 (区划、工作日、审计)"
