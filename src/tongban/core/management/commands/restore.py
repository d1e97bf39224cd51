from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from tongban.core.backup import BackupError, backup_restore, read_private_key

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
            "--key", help="the recovery private key file, for a sealed backup (`backup-key`)"
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: object, **options: Any) -> None:
        try:
            key = read_private_key(Path(options["key"])) if options.get("key") else None
            report = backup_restore(
                archive=Path(options["archive"]),
                materials_dir=materials_root(),
                using=options["database"],
                force=options["force"],
                private_key=key,
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(report.describe())
