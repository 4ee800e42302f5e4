from __future__ import annotations

from audit.management.retention import RetentionCleanupCommand
from audit.services import api_logs_cleanup, api_logs_cutoff


class Command(RetentionCleanupCommand):
    help = "Delete API logs older than the retention period (API_LOGS_RETENTION_DAYS, 30 by default)."
    setting, rows = "API_LOGS_RETENTION_DAYS", "API logs"
    cutoff, cleanup = staticmethod(api_logs_cutoff), staticmethod(api_logs_cleanup)
