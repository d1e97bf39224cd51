"""The tables take the app's name: core_peer → interchange_peer, and the messages' too."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("interchange", "0001_initial"),
        ("core", "0006_interchange_moved"),
    ]

    operations = [
        migrations.AlterModelTable(name="peer", table=None),
        migrations.AlterModelTable(name="outboundmessage", table=None),
        migrations.AlterModelTable(name="inboundmessage", table=None),
    ]
