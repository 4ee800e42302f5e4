"""Unique counts from state (docs/metering.md, "Unique counts from state"), PostgreSQL only.

`metering_uniquecountlink` holds the events of unique-count metrics linked to the previous and next
event of the same value; `metering_uniquecountrollup` counts `add` events per (hour, hour of the
next event of the value). The ingestion statement inserts the link rows of the events it stored;
the row trigger below links each one between its neighbours (the rows already linked, so rows of
the same statement link one after the other, in insertion order) and moves the counts. A per-value
advisory lock (two-int key space, apart from the organization lock of rollup rebuilds) serializes
concurrent ingestion of the same value. Rows inserted already linked (rebuilds) skip the trigger.

The events stored before this migration are linked here from raw events, for every live
unique-count metric (the same SQL as `metering.store.postgres.unique_state_rebuild`).
"""

import django.db.models.deletion

import billing_project.core.models
from django.db import migrations, models

LINK = "metering_uniquecountlink"
ROLLUP = "metering_uniquecountrollup"
HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
NEVER = "'9999-12-31T00:00:00+00:00'::timestamptz"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION metering_unique_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p record;
    s record;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtext(NEW.organization_id::text || '/' || NEW.external_subscription_id || '/' || NEW.code),
        hashtext(NEW.value));
    SELECT id, timestamp, adds, next_at INTO p FROM {LINK}
     WHERE organization_id = NEW.organization_id AND external_subscription_id = NEW.external_subscription_id
       AND code = NEW.code AND value = NEW.value AND linked AND id <> NEW.id
       AND (timestamp, created_at, transaction_id) < (NEW.timestamp, NEW.created_at, NEW.transaction_id COLLATE "C")
     ORDER BY timestamp DESC, created_at DESC, transaction_id DESC LIMIT 1;
    SELECT id, timestamp INTO s FROM {LINK}
     WHERE organization_id = NEW.organization_id AND external_subscription_id = NEW.external_subscription_id
       AND code = NEW.code AND value = NEW.value AND linked AND id <> NEW.id
       AND (timestamp, created_at, transaction_id) > (NEW.timestamp, NEW.created_at, NEW.transaction_id COLLATE "C")
     ORDER BY timestamp, created_at, transaction_id LIMIT 1;
    IF p.id IS NOT NULL THEN
        IF p.adds THEN
            INSERT INTO {ROLLUP} (organization_id, external_subscription_id, code, hour, next_hour, adds)
            VALUES (NEW.organization_id, NEW.external_subscription_id, NEW.code, {HOUR.format("p.timestamp")},
                    coalesce({HOUR.format("p.next_at")}, {NEVER}), -1),
                   (NEW.organization_id, NEW.external_subscription_id, NEW.code, {HOUR.format("p.timestamp")},
                    {HOUR.format("NEW.timestamp")}, 1)
            ON CONFLICT (organization_id, external_subscription_id, code, hour, next_hour)
            DO UPDATE SET adds = {ROLLUP}.adds + excluded.adds;
        END IF;
        UPDATE {LINK} SET next_at = NEW.timestamp WHERE id = p.id;
    END IF;
    IF s.id IS NOT NULL THEN
        UPDATE {LINK} SET prev_at = NEW.timestamp, prev_adds = NEW.adds WHERE id = s.id;
    END IF;
    UPDATE {LINK} SET linked = true, next_at = s.timestamp, prev_at = p.timestamp, prev_adds = p.adds
     WHERE id = NEW.id;
    IF NEW.adds THEN
        INSERT INTO {ROLLUP} (organization_id, external_subscription_id, code, hour, next_hour, adds)
        VALUES (NEW.organization_id, NEW.external_subscription_id, NEW.code, {HOUR.format("NEW.timestamp")},
                coalesce({HOUR.format("s.timestamp")}, {NEVER}), 1)
        ON CONFLICT (organization_id, external_subscription_id, code, hour, next_hour)
        DO UPDATE SET adds = {ROLLUP}.adds + excluded.adds;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER metering_unique_link AFTER INSERT ON {LINK}
    FOR EACH ROW WHEN (NOT NEW.linked) EXECUTE FUNCTION metering_unique_link();
"""  # noqa: S608 - constant identifiers, no values
DROP = f"DROP TRIGGER IF EXISTS metering_unique_link ON {LINK}; DROP FUNCTION IF EXISTS metering_unique_link();"

# The events stored before: every live unique-count metric's events with a value, linked by window
# functions, then counted per (hour, next hour).
BACKFILL = f"""
INSERT INTO {LINK} (organization_id, external_subscription_id, code, value, timestamp, created_at, transaction_id,
                    adds, next_at, prev_at, prev_adds, linked)
SELECT organization_id, external_subscription_id, code, v, timestamp, created_at, transaction_id, adds,
       lead(timestamp) OVER w, lag(timestamp) OVER w, lag(adds) OVER w, true
FROM (SELECT e.organization_id, e.external_subscription_id, e.code, e.properties ->> m.field_name AS v, e.timestamp,
             e.created_at, e.transaction_id,
             coalesce(e.properties ->> 'operation_type', 'add') <> 'remove' AS adds
        FROM metering_event e JOIN catalog_billablemetric m
          ON m.organization_id = e.organization_id AND m.code = e.code AND m.deleted_at IS NULL
         AND m.aggregation_type = 'unique_count_agg' AND coalesce(m.field_name, '') <> '') AS x
WHERE v IS NOT NULL
WINDOW w AS (PARTITION BY organization_id, external_subscription_id, code, v
             ORDER BY timestamp, created_at, transaction_id COLLATE "C");
INSERT INTO {ROLLUP} (organization_id, external_subscription_id, code, hour, next_hour, adds)
SELECT organization_id, external_subscription_id, code, {HOUR.format("timestamp")},
       coalesce({HOUR.format("next_at")}, {NEVER}), count(*)
FROM {LINK} WHERE adds GROUP BY 1, 2, 3, 4, 5;
"""  # noqa: S608 - constant identifiers, no values


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("customers", "0003_api_key_permissions"),
        ("metering", "0008_rollup_value_time_sum"),
    ]

    operations = [
        migrations.CreateModel(
            name="UniqueCountLink",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("external_subscription_id", models.CharField(max_length=255)),
                ("code", models.CharField(max_length=255)),
                ("value", models.TextField()),
                ("timestamp", models.DateTimeField()),
                ("created_at", models.DateTimeField()),
                # "C" on PostgreSQL; none on SQLite (no such collation there), see the field.
                ("transaction_id", billing_project.core.models.ByteOrderCharField(db_collation="C", max_length=255)),
                ("adds", models.BooleanField()),
                ("next_at", models.DateTimeField(null=True)),
                ("prev_at", models.DateTimeField(null=True)),
                ("prev_adds", models.BooleanField(null=True)),
                ("linked", models.BooleanField(db_default=False)),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.organization",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=[
                            "organization",
                            "external_subscription_id",
                            "code",
                            "value",
                            "timestamp",
                            "created_at",
                            "transaction_id",
                        ],
                        name="metering_unique_value",
                    ),
                    models.Index(
                        fields=["organization", "external_subscription_id", "code", "timestamp"],
                        name="metering_unique_time",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="UniqueCountRollup",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("external_subscription_id", models.CharField(max_length=255)),
                ("code", models.CharField(max_length=255)),
                ("hour", models.DateTimeField()),
                ("next_hour", models.DateTimeField()),
                ("adds", models.BigIntegerField(default=0)),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "external_subscription_id", "code", "hour", "next_hour"),
                        name="metering_unique_rollup_key",
                    )
                ],
            },
        ),
        migrations.RunPython(_on_postgresql(FUNCTION), _on_postgresql(DROP)),
        migrations.RunPython(_on_postgresql(BACKFILL), migrations.RunPython.noop),
    ]
