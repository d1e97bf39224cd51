from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.errors import DomainError
from tongban.ledger.services import ledger_key_rotate, witness_key_rotate


class Command(BaseCommand):
    help = "轮换日志签名密钥（或 --witness 轮换见证人副署密钥），打印新公钥 (vkey)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("log_name", nargs="?", help="日志名称，如 licenses、audit")
        parser.add_argument("--witness", action="store_true", help="轮换本地区见证人密钥")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["witness"]:
                vkeys = [witness_key_rotate()]
            elif options["log_name"]:
                vkeys = ledger_key_rotate(log_name=options["log_name"])
            else:
                raise CommandError("give a log name or --witness")
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        for vkey in vkeys:
            self.stdout.write(vkey)
