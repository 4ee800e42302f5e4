"""Celery worker processes freeze their start-up objects and collect garbage less often
(`billing_project.core.heap.tune_garbage_collection`, bench/RESULTS.md "Billing run")."""

from __future__ import annotations

import gc

from celery import signals

from billing_project import celery as celery_module
from billing_project.core import heap


def test_worker_processes_tune_the_garbage_collector():
    before = gc.get_threshold()
    try:
        celery_module.tune_garbage_collection()
        assert gc.get_threshold() == heap.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # the objects alive at start-up are out of the collector's sight
        garbage: list[object] = []
        garbage.append(garbage)  # a cycle made after start-up is still collected
        del garbage
        assert gc.collect() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    for signal in (signals.worker_process_init, signals.worker_ready):
        assert any(receiver() is celery_module._tune_garbage_collection for _, receiver in signal.receivers), signal
