"""Seed the licence types and the demo catalog's issuance rules (see tongban.licenses.seed)."""

from django.db import migrations


def seed(apps, schema_editor):
    from tongban.licenses.seed import seed_rows

    seed_rows(apps.get_model("licenses", "LicenseType"), apps.get_model("licenses", "LicenseIssuance"))


class Migration(migrations.Migration):
    dependencies = [("licenses", "0001_licenses")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
