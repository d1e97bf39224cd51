"""Replace a local region's interchange signing key (`tongban manage interchange_key_rotate`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.crypto import key_fingerprint
from tongban.core.errors import DomainError
from tongban.interchange.services import region_key_rotate


class Command(BaseCommand):
    help = (
        "更换本部署某区域的消息签名密钥 (rotate a local region's interchange signing key: "
        "pending messages are signed again; peers then fetch the new key)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="本部署服务的区域代码, e.g. 440000")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["code"]
        try:
            old, new = region_key_rotate(code=code, actor="admin")
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        self.stdout.write(
            "\n".join(
                [
                    f"区域 {code} 已更换签名密钥 (signing key rotated)",
                    f"  旧 old fingerprint {key_fingerprint(old)}",
                    f"  新 new fingerprint {key_fingerprint(new)}",
                    f"  新公钥 new public key {new}",
                    "各对端管理员执行 (on every peer, compare the fingerprint):",
                    f"  tongban manage peer_add {code} --name NAME --url THIS_URL --fetch-key",
                ]
            )
        )
