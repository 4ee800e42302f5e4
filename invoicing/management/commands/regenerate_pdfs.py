"""`manage.py regenerate_pdfs [--dry-run] [--organization ID|NAME] [--limit 1000] [--grace-minutes 10]`
`manage.py regenerate_pdfs --invoice ID [--invoice ID ...]` (render those again, even with a PDF)

The PDF sweeper by hand (beat `invoicing-pdfs-sweep` every 15 minutes): finalized or voided
invoices, and credit notes, that have no PDF although they were issued more than `--grace-minutes`
ago (their task was lost: a worker killed, a broker restarted), rendered here, oldest first, with
progress on stderr. A document that fails is listed and the others go on. `--dry-run` lists them
and writes nothing. Safe to run twice (a document that has its PDF is skipped).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing_project.core.progress import Progress
from customers.management.commands.create_api_key import find_organization
from invoicing.credits.models import CreditNote
from invoicing.credits.services.documents import credit_note_generate_pdf
from invoicing.models import Invoice
from invoicing.services.documents import PDF_SWEEP_LIMIT, documents_missing_pdf, invoice_generate_pdf


class Command(BaseCommand):
    help = "Render the PDFs of finalized invoices and credit notes that have none (the PDF sweeper, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List the documents; render nothing.")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")
        parser.add_argument("--limit", type=int, default=PDF_SWEEP_LIMIT, help="At most this many of each kind.")
        parser.add_argument("--grace-minutes", type=float, default=10.0, help="Skip documents issued more recently.")
        parser.add_argument("--invoice", action="append", default=[], help="Render this invoice again (repeatable).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["invoice"]:
            invoices, notes, force = options["invoice"], [], True
            try:
                found = set(map(str, Invoice.objects.filter(id__in=invoices).values_list("id", flat=True)))
            except Exception as exc:  # not UUIDs
                raise CommandError(f"--invoice: not an invoice id in {invoices}") from exc
            if unknown := [i for i in invoices if i not in found]:
                raise CommandError(f"--invoice: unknown invoice(s) {unknown}")
        else:
            organization = find_organization(options["organization"]) if options["organization"] else None
            missing = documents_missing_pdf(
                organization=organization,
                limit=max(options["limit"], 1),
                grace=dt.timedelta(minutes=max(options["grace_minutes"], 0)),
            )
            invoices, notes, force = missing.invoices, missing.credit_notes, False
        if options["dry_run"]:
            numbers = dict(Invoice.objects.filter(id__in=invoices).values_list("id", "number"))
            for invoice_id in invoices:
                self.stdout.write(f"would render invoice {numbers.get(invoice_id, '')} ({invoice_id})")
            note_numbers = dict(CreditNote.objects.filter(id__in=notes).values_list("id", "number"))
            for note_id in notes:
                self.stdout.write(f"would render credit note {note_numbers.get(note_id, '')} ({note_id})")
            self.stdout.write(f"dry run: {len(invoices)} invoice(s), {len(notes)} credit note(s) without a PDF")
            return
        progress = Progress(
            len(invoices) + len(notes), "documents", stream=self.stderr, enabled=not options["no_progress"]
        )
        rendered = failed = 0
        for kind, ids, render in (
            ("invoice", invoices, invoice_generate_pdf),
            ("credit note", notes, credit_note_generate_pdf),
        ):
            for document_id in ids:
                try:
                    rendered += render(document_id, force=force) is not None
                except Exception as exc:  # noqa: BLE001 - listed; the others go on
                    failed += 1
                    self.stderr.write(f"{kind} {document_id}: {exc!r}")
                progress.advance()
        progress.done()
        self.stdout.write(f"{rendered} PDF(s) rendered, {failed} failed")
