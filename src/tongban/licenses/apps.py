from django.apps import AppConfig


class LicensesConfig(AppConfig):
    name = "tongban.licenses"
    verbose_name = "电子证照"

    def ready(self) -> None:
        # 免证办: the exchange's licence library answers from the licences issued here.
        from .library import register

        register()
