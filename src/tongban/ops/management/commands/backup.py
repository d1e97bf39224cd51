from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from tongban.core.crypto import SM2KeyError, sm2_public_key_normalise
from tongban.ops.backup import SEALED_SUFFIX, BackupError, backup_create, default_archive_name


def materials_root() -> Path:
    """The root of the material files: the default storage, which must be on the filesystem."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        raise CommandError(
            f"backup copies material files from a FileSystemStorage, not {type(storage).__name__}"
        )
    return Path(storage.location)


class Command(BaseCommand):
    help = "备份数据库与材料文件到一个归档 (back up the database and material files, one tar.gz)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            "-o",
            help="archive path, or a directory for it (default: VAR_DIR/backups/)",
        )
        parser.add_argument(
            "--recipient",
            help="SM2 public key of the recovery key to seal to "
            "(default: TONGBAN_BACKUP_PUBLIC_KEY; none: not encrypted)",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: object, **options: Any) -> None:
        recipient = options.get("recipient") or settings.TONGBAN.get("BACKUP_PUBLIC_KEY") or None
        if recipient:
            try:
                recipient = sm2_public_key_normalise(recipient)
            except SM2KeyError as error:
                raise CommandError(
                    f"恢复公钥无效 (recovery public key invalid): {error}"
                ) from error
        output = Path(options["output"] or Path(settings.VAR_DIR) / "backups")
        if output.is_dir() or not options["output"]:
            output = output / (default_archive_name() + (SEALED_SUFFIX if recipient else ""))
        try:
            result = backup_create(
                output=output,
                materials_dir=materials_root(),
                using=options["database"],
                recipient=recipient,
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(result.describe())
        if not recipient:
            self.stderr.write(
                "警告：备份未加密，含个人信息 (WARNING: the archive is not encrypted and holds "
                "personal data; create a recovery key with `tongban backup-key` and set "
                "TONGBAN_BACKUP_PUBLIC_KEY)"
            )
