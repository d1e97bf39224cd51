from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.errors import DomainError
from tongban.ledger.services import checkpoint_publish


class Command(BaseCommand):
    help = "签发并打印日志的当前签名树头 (C2SP checkpoint)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("log_name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stdout.write(checkpoint_publish(log_name=options["log_name"]), ending="")
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
