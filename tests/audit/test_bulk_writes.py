"""Bulk writes are audited too: `QuerySet.update()` through `billing_project.core.bulk.update_rows`
(`bulk_updated`), `bulk_create()` with `bulk_created`; and no code updates an audited model in bulk
behind the trail's back."""

from __future__ import annotations

import ast
import pathlib

import pytest
from django.contrib.contenttypes.models import ContentType

from audit.models import AuditLogEntry
from audit.recorder import AUDITED_MODELS, IGNORED_FIELDS
from billing_project.core.bulk import update_rows
from catalog.models import Charge, ChargeFilter
from customers.models import ApiKey
from metering.models import EventError
from tests.factories.catalog import BillableMetricFactory, ChargeFactory, ChargeFilterFactory, PlanFactory

pytestmark = pytest.mark.django_db

REPO = pathlib.Path(__file__).resolve().parents[2]


def entries_for(obj):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk)
    ).order_by("created_at")


def test_deleting_a_metric_records_its_charges_and_filters_deleted_in_bulk_with_the_api_key(tenant):
    metric = BillableMetricFactory(organization=tenant.organization, code="calls")
    plan = PlanFactory(organization=tenant.organization)
    charge = ChargeFactory(plan=plan, billable_metric=metric)
    charge_filter = ChargeFilterFactory(charge=charge)
    other = ChargeFactory(plan=plan)  # another metric's charge: untouched, unrecorded
    api_key = ApiKey.objects.get(organization=tenant.organization)

    response = tenant.client.delete("/api/v1/billable_metrics/calls", HTTP_X_REQUEST_ID="req-bulk-1")
    assert response.status_code == 200, response.content

    for row in (charge, charge_filter):
        [entry] = entries_for(row).filter(action="update")
        assert entry.actor_type == "api_key" and entry.actor_id == str(api_key.pk)
        assert entry.organization_id == tenant.organization.id
        assert entry.request_id == "req-bulk-1"
        assert list(entry.changes) == ["deleted_at"]
        assert entry.changes["deleted_at"][0] is None and entry.changes["deleted_at"][1]
    assert not entries_for(other).filter(action="update").exists()
    assert Charge.objects.get(pk=charge.pk).deleted_at is not None
    assert ChargeFilter.objects.get(pk=charge_filter.pk).deleted_at is not None


def test_update_rows_records_only_rows_that_changed_and_returns_the_count(organization):
    plan = PlanFactory(organization=organization)
    charges = [ChargeFactory(plan=plan, min_amount_cents=0) for _ in range(3)]
    ChargeFactory(plan=plan, min_amount_cents=500)
    assert update_rows(Charge.objects.filter(plan=plan), min_amount_cents=500) == 4
    assert [entries_for(c).filter(action="update").get().changes for c in charges] == [
        {"min_amount_cents": [0, 500]}
    ] * 3
    assert AuditLogEntry.objects.filter(action="update").count() == 3  # the fourth did not change
    assert update_rows(Charge.objects.filter(plan=plan, min_amount_cents=0), min_amount_cents=1) == 0


def test_update_rows_of_a_model_nobody_audits_is_a_plain_update(organization, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert update_rows(EventError.objects.filter(organization=organization), error_code="x") == 0


def _model_root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_bulk_write_of_an_audited_model_escapes_the_trail():
    """`Model.objects...update()` / `bulk_update()` on an audited model go through `update_rows`
    (only bookkeeping fields may be updated directly); `bulk_create()` of one sends `bulk_created`."""
    audited = {label.split(".")[1] for label in AUDITED_MODELS}
    apps = [p for p in REPO.iterdir() if (p / "apps.py").exists()] + [REPO / "billing_project"]
    offenders = []
    for app in apps:
        for path in app.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            for node in ast.walk(ast.parse(source)):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                method, model = node.func.attr, _model_root(node.func.value)
                if model not in audited:
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                if (
                    method == "bulk_update"
                    or (method == "update" and not {k.arg for k in node.keywords} <= IGNORED_FIELDS)
                    or (method == "bulk_create" and "bulk_created.send" not in source)
                ):
                    offenders.append(where)
    assert offenders == []
