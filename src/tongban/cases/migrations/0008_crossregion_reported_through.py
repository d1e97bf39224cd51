from django.db import migrations, models


def mark_reported(apps, schema_editor):
    """Origins from before this field: every step so far was reported after its commit."""
    CrossRegionOrigin = apps.get_model("cases", "CrossRegionOrigin")
    CaseTransition = apps.get_model("cases", "CaseTransition")
    for origin in CrossRegionOrigin.objects.all().iterator():
        last = (
            CaseTransition.objects.filter(case_id=origin.case_id)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        CrossRegionOrigin.objects.filter(pk=origin.pk).update(reported_through=last)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0007_crossregion_parts"),
    ]

    operations = [
        migrations.AddField(
            model_name="crossregionorigin",
            name="reported_through",
            field=models.PositiveBigIntegerField(
                blank=True, null=True, verbose_name="已同步至办理过程"
            ),
        ),
        migrations.RunPython(mark_reported, migrations.RunPython.noop),
    ]
