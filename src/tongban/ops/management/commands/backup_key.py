from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.crypto import key_fingerprint
from tongban.ops.backup import BackupError, recovery_key_create


class Command(BaseCommand):
    help = (
        "生成备份恢复密钥对 (create the SM2 recovery key pair that backups are sealed to: the "
        "private key goes to a file kept off the server, the public key to the settings)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="where to write the private key (mode 0600)")

    def handle(self, *args: object, **options: Any) -> None:
        path = Path(options["path"])
        try:
            public_hex = recovery_key_create(path)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            "\n".join(
                [
                    f"恢复私钥 (recovery private key): {path}",
                    "  离线保存，勿留在服务器上；恢复时 `tongban restore ARCHIVE --key FILE`",
                    "  (keep it offline, never on the server; needed by every restore)",
                    f"恢复公钥 (public key, for the server): {public_hex}",
                    f"  指纹 fingerprint {key_fingerprint(public_hex)}",
                    f"  设置 set TONGBAN_BACKUP_PUBLIC_KEY={public_hex}",
                ]
            )
        )
