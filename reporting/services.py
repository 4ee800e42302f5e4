"""Writes of the reporting app: requesting and producing CSV exports."""

from __future__ import annotations

import logging
import tempfile
from datetime import date
from uuid import UUID

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from billing_project.core.actor import current_actor
from billing_project.core.errors import NotAllowedFailure, ValidationFailure
from billing_project.core.replica import replica_reads
from customers.models import Organization
from reporting.exports import LAYOUTS, write_csv
from reporting.models import Export, ExportStatus

logger = logging.getLogger(__name__)

MAX_RANGE_DAYS = 3660


def export_request(organization: Organization, *, resource_type: str, from_date: date, to_date: date) -> Export:
    """Record an export, requested by the current actor, and enqueue its task once the row is committed."""
    errors: dict[str, list[str]] = {}
    if resource_type not in LAYOUTS:
        errors["resource_type"] = ["value_is_invalid"]
    if from_date > to_date:
        errors["to_date"] = ["value_is_invalid"]
    elif (to_date - from_date).days > MAX_RANGE_DAYS:
        errors["from_date"] = ["value_is_out_of_range"]
    if errors:
        raise ValidationFailure(errors)
    with transaction.atomic():
        export = Export.objects.create(
            organization=organization,
            resource_type=resource_type,
            from_date=from_date,
            to_date=to_date,
            requested_by=current_actor().trail_label,
        )
        export_id = str(export.id)

        def enqueue() -> None:
            from reporting.tasks import export_run

            export_run.delay(export_id)

        transaction.on_commit(enqueue)
    return export


def export_run(export_id: str) -> Export | None:
    """Produce the file of a pending (or failed) export. Safe to run twice: the row is claimed under
    a lock, so a second run of the same export does nothing."""
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(id=export_id).first()
        if export is None or export.status not in (ExportStatus.PENDING, ExportStatus.FAILED):
            return export
        export.status, export.started_at, export.error = ExportStatus.PROCESSING, timezone.now(), ""
        export.save(update_fields=["status", "started_at", "error", "updated_at"])
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as out:
            # The rows may come from a read replica (the export row stays on default); one
            # transaction keeps the server-side cursor on one connection behind PgBouncer.
            with replica_reads() as alias, transaction.atomic(using=alias):
                count = write_csv(export.resource_type, export.organization, export.from_date, export.to_date, out)
            out.seek(0)
            name = f"{export.resource_type}_{export.from_date:%Y%m%d}_{export.to_date:%Y%m%d}_{export.id}.csv"
            export.file.save(name, File(out), save=False)
    except Exception as exc:
        logger.exception("export failed", extra={"export_id": export_id})
        Export.objects.filter(id=export.id).update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], updated_at=timezone.now()
        )
        export.refresh_from_db()
        return export
    export.status, export.row_count, export.completed_at = ExportStatus.COMPLETED, count, timezone.now()
    export.save(update_fields=["status", "row_count", "completed_at", "file", "updated_at"])
    return export


def export_file(organization: Organization, export_id: UUID | str) -> Export:
    """The export of this organization whose file can be downloaded (405 while it is not ready)."""
    from reporting.selectors import export_get

    export = export_get(organization, export_id)
    if export.status != ExportStatus.COMPLETED or not export.file:
        raise NotAllowedFailure("export_not_ready")
    return export
