"""Peers and messages now belong to the `interchange` app (ADR 0020): removed from core's
state only; the tables stay and are renamed by interchange 0002."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_events"),
        ("interchange", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="InboundMessage"),
                migrations.DeleteModel(name="OutboundMessage"),
                migrations.DeleteModel(name="Peer"),
            ],
        ),
    ]
