from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "tongban.ledger"
    verbose_name = "透明日志 (Merkle)"
