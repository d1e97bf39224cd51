from django.db import migrations, models


def applied_so_far(apps, schema_editor):
    """Before this field, messages were applied strictly in order: 1..last_sequence."""
    for name in ("ReceivedApplication", "ReceivedPart"):
        model = apps.get_model("cases", name)
        for row in model.objects.filter(last_sequence__gt=0).iterator():
            model.objects.filter(pk=row.pk).update(
                sequences_applied=list(range(1, row.last_sequence + 1))
            )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_state_machines"),
    ]

    operations = [
        migrations.AddField(
            model_name="receivedapplication",
            name="sequences_applied",
            field=models.JSONField(blank=True, default=list, verbose_name="已应用的状态消息"),
        ),
        migrations.AddField(
            model_name="receivedpart",
            name="sequences_applied",
            field=models.JSONField(blank=True, default=list, verbose_name="已应用的状态消息"),
        ),
        migrations.RunPython(applied_so_far, migrations.RunPython.noop),
    ]
