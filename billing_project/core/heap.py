"""Garbage collection in long-lived processes: the Celery workers and the gunicorn workers.

Measured (bench/billing_run.py, 2026-12-07, one 500-invoice batch three times in one process): with
the default thresholds the collector ran ~140 times per 500 invoices, each full collection walking
the ~180,000 objects Django and the app hold from start-up, 0.35 ms of 1.5 ms of CPU per invoice.
The start-up objects are moved out of its sight (`gc.freeze()`: they live as long as the process
anyway) and a collection starts after 20,000 new container objects instead of 700: 0.08 ms per
invoice. In a gunicorn worker of the API each full collection cost 100–127 ms of CPU, a pause for
every request queued behind it (bench/RESULTS.md, "The server layer"). Reference counting still
frees every object as before; only garbage cycles wait longer, at most a few MB.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (20_000, 10, 10)


def tune_garbage_collection() -> None:
    """Freeze what the process holds now and collect less often (call it once start-up is done)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
