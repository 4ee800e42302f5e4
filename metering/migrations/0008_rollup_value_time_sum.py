"""Σ value × Unix seconds per rollup: weighted sums from rollups (docs/metering.md).

Null on the rows that exist before this migration: windows holding one read raw events, as before,
until `rebuild_usage_rollups` (or the daily job, for yesterday) recomputes them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0007_clickhouse_backfill"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerollup",
            name="value_time_sum",
            field=models.DecimalField(decimal_places=18, help_text="Σ value × Unix seconds", max_digits=65, null=True),
        ),
    ]
