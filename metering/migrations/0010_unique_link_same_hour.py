"""The unique-count trigger of 0009, fixed: an event linked between two events of its value whose
next event is in its own hour left the counts as they were but wrote them as one statement moving
the same (hour, next hour) row twice, which PostgreSQL refuses (the ingestion failed). Now the
counts move only when the previous event's next hour changes, one row per statement.
"""

from django.db import migrations

LINK = "metering_uniquecountlink"
ROLLUP = "metering_uniquecountrollup"
HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
NEVER = "'9999-12-31T00:00:00+00:00'::timestamptz"
UPSERT = (
    f"INSERT INTO {ROLLUP} (organization_id, external_subscription_id, code, hour, next_hour, adds) "  # noqa: S608 - constant identifiers
    "VALUES (NEW.organization_id, NEW.external_subscription_id, NEW.code, {hour}, {next_hour}, {adds}) "
    "ON CONFLICT (organization_id, external_subscription_id, code, hour, next_hour) "
    f"DO UPDATE SET adds = {ROLLUP}.adds + excluded.adds;"
)

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
        IF p.adds AND coalesce({HOUR.format("p.next_at")}, {NEVER}) <> {HOUR.format("NEW.timestamp")} THEN
            {UPSERT.format(hour=HOUR.format("p.timestamp"), next_hour=f"coalesce({HOUR.format('p.next_at')}, {NEVER})", adds=-1)}
            {UPSERT.format(hour=HOUR.format("p.timestamp"), next_hour=HOUR.format("NEW.timestamp"), adds=1)}
        END IF;
        UPDATE {LINK} SET next_at = NEW.timestamp WHERE id = p.id;
    END IF;
    IF s.id IS NOT NULL THEN
        UPDATE {LINK} SET prev_at = NEW.timestamp, prev_adds = NEW.adds WHERE id = s.id;
    END IF;
    UPDATE {LINK} SET linked = true, next_at = s.timestamp, prev_at = p.timestamp, prev_adds = p.adds
     WHERE id = NEW.id;
    IF NEW.adds THEN
        {UPSERT.format(hour=HOUR.format("NEW.timestamp"), next_hour=f"coalesce({HOUR.format('s.timestamp')}, {NEVER})", adds=1)}
    END IF;
    RETURN NULL;
END
$$;
"""  # noqa: S608 - constant identifiers, no values


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("metering", "0009_unique_count_state")]

    operations = [migrations.RunPython(_on_postgresql(FUNCTION), migrations.RunPython.noop)]
