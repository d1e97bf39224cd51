from django.core.management.base import BaseCommand

from tongban.core import clock
from tongban.core.services import calendar_seed_year


class Command(BaseCommand):
    help = "从 chinese_calendar 导入节假日与调休 (seed holidays for the given or recent years)"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("years", nargs="*", type=int)

    def handle(self, *args: object, **options: object) -> None:
        this_year = clock.today().year
        years: list[int] = list(options["years"]) or list(range(2023, this_year + 2))  # type: ignore[call-overload]
        for year in years:
            count = calendar_seed_year(year=year)
            state = "official" if count else "NO OFFICIAL DATA — weekend rule, admins warned"
            self.stdout.write(f"{year}: {count} days ({state})")
