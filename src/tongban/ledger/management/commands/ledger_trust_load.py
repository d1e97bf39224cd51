from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.errors import DomainError
from tongban.ledger.services import trust_list_load_file


class Command(BaseCommand):
    help = "从 JSON 文件载入信任列表（其他地区的日志公钥）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            saved = trust_list_load_file(options["path"])
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        for trusted in saved:
            self.stdout.write(f"{trusted.origin} ({len(trusted.vkey_list())} keys)")
