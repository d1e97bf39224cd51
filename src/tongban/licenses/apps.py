from django.apps import AppConfig


class LicensesConfig(AppConfig):
    name = "tongban.licenses"
    verbose_name = "电子证照"
