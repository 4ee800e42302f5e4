import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_events_store"),
        ("metering", "0010_unique_link_same_hour"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "organization_id",
                        "transaction_id",
                        "external_subscription_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("transaction_id", models.CharField(max_length=255)),
                ("external_subscription_id", models.CharField(max_length=255)),
            ],
        ),
        migrations.CreateModel(
            name="EventsStoreMigration",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("copying", "Copying"), ("switched", "Switched"), ("complete", "Complete")],
                        default="copying",
                        max_length=16,
                    ),
                ),
                (
                    "keys_cursor",
                    models.UUIDField(blank=True, help_text="last event id whose key was copied", null=True),
                ),
                ("keys_copied", models.BigIntegerField(default=0)),
                ("switched_at", models.DateTimeField(blank=True, null=True)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="customers.organization"
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
    ]
