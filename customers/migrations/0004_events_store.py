import customers.models
from django.db import migrations, models

CHOICES = [("postgres", "Postgres"), ("clickhouse", "Clickhouse")]


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_api_key_permissions"),
    ]

    # Existing organizations keep their events in PostgreSQL whatever EVENTS_STORE says: only
    # `manage.py events_store_migrate` moves one. New ones take the setting (the callable default).
    operations = [
        migrations.AddField(
            model_name="organization",
            name="events_store",
            field=models.CharField(choices=CHOICES, default="postgres", editable=False, max_length=16),
        ),
        migrations.AlterField(
            model_name="organization",
            name="events_store",
            field=models.CharField(
                choices=CHOICES, default=customers.models.default_events_store, editable=False, max_length=16
            ),
        ),
    ]
