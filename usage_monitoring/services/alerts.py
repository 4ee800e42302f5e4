"""Alert CRUD (Lago's `UsageMonitoring::CreateAlertService` / `UpdateAlertService`).

Input is the client's `Alert` model as `usage_monitoring.inputs.AlertFields`: `alert_type`, `code`,
`name`, `billable_metric_code`, `thresholds [{code, value, recurring}]` (values are decimal
strings; amounts are in cents).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import ValidationFailure
from billing_project.core.found import found
from billing_project.core.inputs import or_none
from billing_project.core.models import save_unique
from catalog.models import BillableMetric
from customers.models import Organization
from usage_monitoring import selectors
from usage_monitoring.inputs import AlertFields, AlertThresholdFields
from usage_monitoring.models import METRIC_TYPES, SUBSCRIPTION_TYPES, WALLET_TYPES, Alert, AlertThreshold

MAX_THRESHOLDS = 20


@dataclass(frozen=True)
class _Threshold:
    code: str
    value: Decimal
    recurring: bool


def _thresholds(
    raw: Sequence[AlertThresholdFields] | None, errors: dict[str, list[str]], *, recurring_allowed: bool = True
) -> list[_Threshold]:
    if not raw:
        errors.setdefault("thresholds", []).append("value_is_mandatory")
        return []
    if len(raw) > MAX_THRESHOLDS:
        errors.setdefault("thresholds", []).append("too_many_thresholds")
        return []
    result: list[_Threshold] = []
    for item in raw:
        try:
            number = Decimal(item.value) if item.value is not None else None
        except (InvalidOperation, ValueError):
            number = None
        if number is None or not number.is_finite() or number <= 0 or int(number.as_tuple().exponent) < -10:
            errors.setdefault("thresholds", []).append("value_is_invalid")
            return []
        result.append(_Threshold(code=item.code or "", value=number, recurring=bool(item.recurring)))
    if not recurring_allowed and any(t.recurring for t in result):
        errors.setdefault("thresholds", []).append("recurring_not_supported")
    if sum(1 for t in result if t.recurring) > 1:
        errors.setdefault("thresholds", []).append("only_one_recurring_threshold")
    steps = [t.value for t in result if not t.recurring]
    if len(steps) != len(set(steps)):
        errors.setdefault("thresholds", []).append("duplicated_values")
    codes = [t.code for t in result if t.code]
    if len(codes) != len(set(codes)):
        errors.setdefault("thresholds", []).append("duplicated_codes")
    return result


def _metric(
    organization: Organization, alert_type: str, code: str | None, errors: dict[str, list[str]]
) -> BillableMetric | None:
    if alert_type not in METRIC_TYPES:
        return None
    if not code:
        errors.setdefault("billable_metric", []).append("value_is_mandatory")
        return None
    return found(
        BillableMetric.objects.filter(organization=organization, code=code, deleted_at__isnull=True).first(),
        "billable_metric",
    )


def _write_thresholds(alert: Alert, thresholds: list[_Threshold]) -> None:
    AlertThreshold.objects.filter(alert=alert).delete()
    AlertThreshold.objects.bulk_create(
        [
            AlertThreshold(
                organization_id=alert.organization_id,
                alert=alert,
                code=t.code,
                value=t.value,
                recurring=t.recurring,
            )
            for t in thresholds
        ]
    )


def _scoped(organization: Organization, *, external_subscription_id: str = "", wallet: Any = None) -> Any:
    if wallet is not None:
        return selectors.wallet_alert_list(organization, wallet)
    return selectors.alert_list(organization, external_subscription_id)


def _create(
    organization: Organization, data: AlertFields, *, external_subscription_id: str = "", wallet: Any = None
) -> Alert:
    errors: dict[str, list[str]] = {}
    alert_type = or_none(data.alert_type)
    allowed = WALLET_TYPES if wallet is not None else SUBSCRIPTION_TYPES
    if alert_type not in allowed:
        errors["alert_type"] = ["value_is_invalid"]
        alert_type = None
    code = or_none(data.code)
    if not code:
        errors["code"] = ["value_is_mandatory"]
    thresholds = _thresholds(or_none(data.thresholds), errors, recurring_allowed=wallet is None)
    metric = _metric(organization, alert_type, or_none(data.billable_metric_code), errors) if alert_type else None
    if not errors:
        alerts = _scoped(organization, external_subscription_id=external_subscription_id, wallet=wallet)
        if alerts.filter(code=code).exists():
            errors["code"] = ["value_already_exist"]
        elif alerts.filter(alert_type=alert_type, billable_metric=metric).exists():
            errors["base"] = ["alert_already_exists"]
    if errors or not code or not alert_type:
        raise ValidationFailure(errors)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                organization=organization,
                external_subscription_id=external_subscription_id,
                wallet=wallet,
                billable_metric=metric,
                alert_type=alert_type,
                code=code,
                name=or_none(data.name) or "",
            )
            _write_thresholds(alert, thresholds)
    except IntegrityError:  # a concurrent create of the same code/type won the race
        raise ValidationFailure.single("code", "value_already_exist") from None
    return alert


def _create_many(organization: Organization, items: Sequence[AlertFields], **scope: Any) -> list[Alert]:
    """The batch create (`{"alerts": [...]}`): all or nothing, errors by index."""
    if not items:
        raise ValidationFailure.single("alerts", "value_is_mandatory")
    created: list[Alert] = []
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                created.append(_create(organization, item, **scope))
            except ValidationFailure as failure:
                raise ValidationFailure({str(index): failure.details}) from None
    return created


def alert_create(
    organization: Organization, *, external_subscription_id: str, data: AlertFields, status: str | None = None
) -> Alert:
    sub = selectors.subscription_for(organization, external_subscription_id, status=status)
    return _create(organization, data, external_subscription_id=sub.external_id)


def alerts_create(
    organization: Organization,
    *,
    external_subscription_id: str,
    items: Sequence[AlertFields],
    status: str | None = None,
) -> list[Alert]:
    sub = selectors.subscription_for(organization, external_subscription_id, status=status)
    return _create_many(organization, items, external_subscription_id=sub.external_id)


def wallet_alert_create(organization: Organization, *, wallet: Any, data: AlertFields) -> Alert:
    return _create(organization, data, wallet=wallet)


def wallet_alerts_create(organization: Organization, *, wallet: Any, items: Sequence[AlertFields]) -> list[Alert]:
    return _create_many(organization, items, wallet=wallet)


def _update(organization: Organization, alert: Alert, data: AlertFields, scope: Any) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(id=alert.id)
        errors: dict[str, list[str]] = {}
        fields = ["updated_at"]
        if (name := or_none(data.name)) is not None:
            alert.name = name
            fields.append("name")
        if (code := or_none(data.code)) and code != alert.code:
            if scope.filter(code=code).exists():
                errors["code"] = ["value_already_exist"]
            alert.code = code
            fields.append("code")
        if (metric_code := or_none(data.billable_metric_code)) and alert.alert_type in METRIC_TYPES:
            alert.billable_metric = _metric(organization, alert.alert_type, metric_code, errors)
            fields.append("billable_metric")
        thresholds = None
        if (sent_thresholds := or_none(data.thresholds)) is not None:
            thresholds = _thresholds(sent_thresholds, errors, recurring_allowed=alert.wallet_id is None)
        if errors:
            raise ValidationFailure(errors)
        save_unique(alert, "base", "alert_already_exists", update_fields=fields)
        if thresholds is not None:
            _write_thresholds(alert, thresholds)
    return scope.get(id=alert.id)


def alert_update(organization: Organization, *, external_subscription_id: str, code: str, data: AlertFields) -> Alert:
    """Partial update: `code`, `name`, `billable_metric_code`, `thresholds` (replaced as a whole)."""
    alert = selectors.alert_get(organization, external_subscription_id, code)
    return _update(organization, alert, data, selectors.alert_list(organization, external_subscription_id))


def wallet_alert_update(organization: Organization, *, wallet: Any, code: str, data: AlertFields) -> Alert:
    alert = selectors.wallet_alert_get(organization, wallet, code)
    return _update(organization, alert, data, selectors.wallet_alert_list(organization, wallet))


def _soft_delete(alert: Alert) -> Alert:
    alert.deleted_at = timezone.now()
    alert.save(update_fields=["deleted_at", "updated_at"])
    return alert


def alert_delete(organization: Organization, *, external_subscription_id: str, code: str) -> Alert:
    with transaction.atomic():
        return _soft_delete(selectors.alert_get(organization, external_subscription_id, code))


def wallet_alert_delete(organization: Organization, *, wallet: Any, code: str) -> Alert:
    with transaction.atomic():
        return _soft_delete(selectors.wallet_alert_get(organization, wallet, code))


def alerts_delete(organization: Organization, *, external_subscription_id: str, status: str | None = None) -> int:
    sub = selectors.subscription_for(organization, external_subscription_id, status=status)
    return selectors.alert_list(organization, sub.external_id).update(deleted_at=timezone.now())


def wallet_alerts_delete(organization: Organization, *, wallet: Any) -> int:
    return selectors.wallet_alert_list(organization, wallet).update(deleted_at=timezone.now())
