from django.core.management.base import BaseCommand, CommandError

from tongban.core.audit import audit_verify


class Command(BaseCommand):
    help = "校验审计日志哈希链 (verify the SM3-chained audit log)"

    def handle(self, *args: object, **options: object) -> None:
        report = audit_verify()
        if not report.ok:
            raise CommandError(report.describe())
        self.stdout.write(report.describe())
