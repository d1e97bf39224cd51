from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: backup and restore (ADR 0007). Outside the domain apps; no models."""

    name = "tongban.ops"
    verbose_name = "运维 (备份与恢复)"
