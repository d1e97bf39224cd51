from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from tongban.ops.backup import BackupError, backup_restore, read_private_key

from .backup import materials_root


class Command(BaseCommand):
    help = (
        "从备份归档恢复到空数据库并校验 (restore a backup archive into an empty database and "
        "materials directory, then verify counts, material digests and the audit chain)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="a tar.gz written by `tongban backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace a database that already has tables (and merge into the materials "
            "directory)",
        )
        parser.add_argument(
            "--key",
            action="append",
            help="a recovery private key file, for a sealed backup (`backup-key`); repeat it "
            "to offer retired keys too — the one the backup was sealed to is used",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: object, **options: Any) -> None:
        try:
            keys = [read_private_key(Path(path)) for path in options.get("key") or ()]
            report = backup_restore(
                archive=Path(options["archive"]),
                materials_dir=materials_root(),
                using=options["database"],
                force=options["force"],
                private_key=keys or None,
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(report.describe())
