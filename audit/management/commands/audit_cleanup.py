from __future__ import annotations

from audit.management.retention import RetentionCleanupCommand
from audit.services import audit_cutoff, audit_entries_cleanup


class Command(RetentionCleanupCommand):
    help = "Delete audit log entries older than the retention period (AUDIT_RETENTION_DAYS, 1095 by default)."
    setting, rows = "AUDIT_RETENTION_DAYS", "audit log entries"
    cutoff, cleanup = staticmethod(audit_cutoff), staticmethod(audit_entries_cleanup)
