"""metering_event: 6 indexes -> 4, for ingestion throughput (docs/metering.md, "Indexes").

- The idempotency key becomes (organization, transaction_id, external_subscription_id): the same
  uniqueness (ON CONFLICT infers it from the column set), and its prefix now serves the lookup by
  transaction id, so the separate (organization, transaction_id) index goes.
- The organization foreign key loses its own index (every other index starts with it) and its
  database constraint (a per-row RI trigger at commit: ~5 CPU-µs per event, and a KEY SHARE lock
  on the organization row taken by every concurrent ingestion). The organization always comes
  from the API key, and Django's collector still cascades deletions.

The new unique index is built before the old one is dropped, so uniqueness never lapses.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_api_key_permissions"),
        ("metering", "0003_clickhouse_outbox"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(
                fields=("organization", "transaction_id", "external_subscription_id"),
                name="metering_event_idempotency_txn",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="event",
            name="metering_event_idempotency",
        ),
        migrations.RemoveIndex(
            model_name="event",
            name="metering_event_txn",
        ),
        migrations.AlterField(
            model_name="event",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="customers.organization",
            ),
        ),
        # Django's PostgreSQL schema editor does not find the foreign key's index to drop it.
        migrations.RunSQL(
            "DROP INDEX IF EXISTS metering_event_organization_id_8b278879",
            reverse_sql="CREATE INDEX IF NOT EXISTS metering_event_organization_id_8b278879 "
            "ON metering_event (organization_id)",
        ),
    ]
