"""metering_usagerollup is a small table whose rows every ingested batch updates (a 100-event batch
updates ~80 of them): keep those updates HOT (heap-only, no index insertions) and the table small.

- no index of its own for the organization foreign key (the rollup key starts with it);
- PostgreSQL: fillfactor 50, so an updated row finds room on its page (a HOT update), and
  autovacuum after ~1,000 dead rows rather than after 20 % of the table.
"""

import django.db.models.deletion
from django.db import migrations, models

STORAGE = (
    "ALTER TABLE metering_usagerollup SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.0, "
    "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05)"
)
STORAGE_RESET = (
    "ALTER TABLE metering_usagerollup RESET (fillfactor, autovacuum_vacuum_scale_factor, "
    "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)"
)


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_api_key_permissions"),
        ("metering", "0004_event_fewer_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usagerollup",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="customers.organization",
            ),
        ),
        migrations.RunPython(_on_postgresql(STORAGE), _on_postgresql(STORAGE_RESET)),
    ]
