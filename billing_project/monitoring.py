"""`GET /metrics`: the process metrics (billing_project/core/metrics.py) and the gauges read from the
database and the broker at each scrape, listed here (the one place that sees every app).

| gauge | read from |
|---|---|
| `bxb_billing_run_lag_seconds`, `bxb_billing_run_sweep_age_seconds` | the latest billing run (invoicing) |
| `bxb_beat_entry_last_run_age_seconds{entry}` | django-celery-beat's schedule (when each entry last ran) |
| `bxb_celery_queue_depth{queue}`, `bxb_celery_queue_oldest_age_seconds{queue}`, `bxb_celery_reserved_*`, `bxb_celery_broker_up` | Redis (billing_project/core/queues.py) |

A reader that fails is logged and left out of that scrape; the others are still served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from billing_project.core import metrics, queues
from billing_project.core.metrics import GaugeSample

logger = logging.getLogger(__name__)


def billing_run_gauges() -> list[GaugeSample]:
    from invoicing.billing.runs import billing_run_lag

    lag = billing_run_lag()
    if lag.lag_seconds is None or lag.sweep_age_seconds is None:
        return []
    return [
        GaugeSample(
            "bxb_billing_run_lag_seconds",
            "Age of the oldest due billing the latest billing run left uninvoiced (0 when it billed everything).",
            lag.lag_seconds,
        ),
        GaugeSample(
            "bxb_billing_run_sweep_age_seconds",
            "How long ago the latest billing run over every organization billed up to (beat runs it hourly).",
            lag.sweep_age_seconds,
        ),
    ]


def beat_gauges() -> list[GaugeSample]:
    from django_celery_beat.models import PeriodicTask

    now = timezone.now()
    return [
        GaugeSample(
            "bxb_beat_entry_last_run_age_seconds",
            "How long ago beat last sent each enabled periodic task (absent before its first run).",
            max((now - last_run_at).total_seconds(), 0.0),
            {"entry": name},
        )
        for name, last_run_at in PeriodicTask.objects.filter(enabled=True, last_run_at__isnull=False)
        .exclude(name__startswith="celery.")
        .values_list("name", "last_run_at")
    ]


READERS: list[Callable[[], list[GaugeSample]]] = [billing_run_gauges, beat_gauges, queues.broker_gauges]


def scrape_gauges() -> list[GaugeSample]:
    samples: list[GaugeSample] = []
    for read in READERS:
        try:
            samples.extend(read())
        except Exception:
            logger.exception("metrics reader %s failed", read.__name__)
    return samples


def metrics_view(request: HttpRequest) -> HttpResponse:
    return metrics.metrics_view(request, scrape=scrape_gauges)
