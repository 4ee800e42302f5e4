"""Alert CRUD (Lago's `UsageMonitoring::CreateAlertService` / `UpdateAlertService`).

Input is the client's `Alert` model: `alert_type`, `code`, `name`, `billable_metric_code`,
`thresholds [{code, value, recurring}]` (values are decimal strings; amounts are in cents).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from catalog.models import BillableMetric
from customers.models import Organization
from usage_monitoring import selectors
from usage_monitoring.models import METRIC_TYPES, SUBSCRIPTION_TYPES, WALLET_TYPES, Alert, AlertThreshold

MAX_THRESHOLDS = 20


def _thresholds(raw: Any, errors: dict[str, list[str]], *, recurring_allowed: bool = True) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        errors.setdefault("thresholds", []).append("value_is_mandatory")
        return []
    if len(raw) > MAX_THRESHOLDS:
        errors.setdefault("thresholds", []).append("too_many_thresholds")
        return []
    result: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            errors.setdefault("thresholds", []).append("value_is_invalid")
            return []
        value = item.get("value")
        try:
            number = Decimal(str(value)) if value is not None and not isinstance(value, bool) else None
        except (InvalidOperation, ValueError):
            number = None
        if number is None or not number.is_finite() or number <= 0 or number.as_tuple().exponent < -10:
            errors.setdefault("thresholds", []).append("value_is_invalid")
            return []
        result.append(
            {"code": str(item.get("code") or ""), "value": number, "recurring": bool(item.get("recurring") or False)}
        )
    if not recurring_allowed and any(t["recurring"] for t in result):
        errors.setdefault("thresholds", []).append("recurring_not_supported")
    if sum(1 for t in result if t["recurring"]) > 1:
        errors.setdefault("thresholds", []).append("only_one_recurring_threshold")
    steps = [t["value"] for t in result if not t["recurring"]]
    if len(steps) != len(set(steps)):
        errors.setdefault("thresholds", []).append("duplicated_values")
    codes = [t["code"] for t in result if t["code"]]
    if len(codes) != len(set(codes)):
        errors.setdefault("thresholds", []).append("duplicated_codes")
    return result


def _metric(organization: Organization, alert_type: str, code: Any, errors: dict[str, list[str]]) -> Any:
    if alert_type not in METRIC_TYPES:
        return None
    if not code:
        errors.setdefault("billable_metric", []).append("value_is_mandatory")
        return None
    metric = BillableMetric.objects.filter(organization=organization, code=code, deleted_at__isnull=True).first()
    if metric is None:
        raise NotFoundFailure("billable_metric")
    return metric


def _write_thresholds(alert: Alert, thresholds: list[dict[str, Any]]) -> None:
    AlertThreshold.objects.filter(alert=alert).delete()
    AlertThreshold.objects.bulk_create(
        [
            AlertThreshold(
                organization_id=alert.organization_id,
                alert=alert,
                code=t["code"],
                value=t["value"],
                recurring=t["recurring"],
            )
            for t in thresholds
        ]
    )


def _scoped(organization: Organization, *, external_subscription_id: str = "", wallet: Any = None) -> Any:
    if wallet is not None:
        return selectors.wallet_alert_list(organization, wallet)
    return selectors.alert_list(organization, external_subscription_id)


def _create(
    organization: Organization, data: dict[str, Any], *, external_subscription_id: str = "", wallet: Any = None
) -> Alert:
    errors: dict[str, list[str]] = {}
    alert_type: Any = data.get("alert_type")
    allowed = WALLET_TYPES if wallet is not None else SUBSCRIPTION_TYPES
    if not isinstance(alert_type, str) or alert_type not in allowed:
        errors["alert_type"] = ["value_is_invalid"]
        alert_type = None
    code = data.get("code")
    if not code or not isinstance(code, str):
        errors["code"] = ["value_is_mandatory"]
    thresholds = _thresholds(data.get("thresholds"), errors, recurring_allowed=wallet is None)
    metric = _metric(organization, alert_type or "", data.get("billable_metric_code"), errors) if alert_type else None
    if not errors:
        alerts = _scoped(organization, external_subscription_id=external_subscription_id, wallet=wallet)
        if alerts.filter(code=code).exists():
            errors["code"] = ["value_already_exist"]
        elif alerts.filter(alert_type=alert_type, billable_metric=metric).exists():
            errors["base"] = ["alert_already_exists"]
    if errors:
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
                name=str(data.get("name") or ""),
            )
            _write_thresholds(alert, thresholds)
    except IntegrityError:  # a concurrent create of the same code/type won the race
        raise ValidationFailure.single("code", "value_already_exist") from None
    return alert


def _create_many(organization: Organization, items: Any, **scope: Any) -> list[Alert]:
    """The batch create (`{"alerts": [...]}`): all or nothing, errors by index."""
    if not isinstance(items, list) or not items:
        raise ValidationFailure.single("alerts", "value_is_mandatory")
    created: list[Alert] = []
    with transaction.atomic():
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValidationFailure({str(index): {"base": ["value_is_invalid"]}})
            try:
                created.append(_create(organization, item, **scope))
            except ValidationFailure as failure:
                raise ValidationFailure({str(index): failure.details}) from None
    return created


def alert_create(
    organization: Organization, *, external_subscription_id: str, data: dict[str, Any], status: str | None = None
) -> Alert:
    sub = selectors.subscription_for(organization, external_subscription_id, status=status)
    return _create(organization, data, external_subscription_id=sub.external_id)


def alerts_create(
    organization: Organization,
    *,
    external_subscription_id: str,
    items: list[dict[str, Any]],
    status: str | None = None,
) -> list[Alert]:
    sub = selectors.subscription_for(organization, external_subscription_id, status=status)
    return _create_many(organization, items, external_subscription_id=sub.external_id)


def wallet_alert_create(organization: Organization, *, wallet: Any, data: dict[str, Any]) -> Alert:
    return _create(organization, data, wallet=wallet)


def wallet_alerts_create(organization: Organization, *, wallet: Any, items: list[dict[str, Any]]) -> list[Alert]:
    return _create_many(organization, items, wallet=wallet)


def _update(organization: Organization, alert: Alert, data: dict[str, Any], scope: Any) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(id=alert.id)
        errors: dict[str, list[str]] = {}
        fields = ["updated_at"]
        if "name" in data and data["name"] is not None:
            alert.name = str(data["name"])
            fields.append("name")
        if data.get("code") and data["code"] != alert.code:
            if scope.filter(code=data["code"]).exists():
                errors["code"] = ["value_already_exist"]
            alert.code = str(data["code"])
            fields.append("code")
        if data.get("billable_metric_code") and alert.alert_type in METRIC_TYPES:
            alert.billable_metric = _metric(organization, alert.alert_type, data["billable_metric_code"], errors)
            fields.append("billable_metric")
        thresholds = None
        if data.get("thresholds") is not None:
            thresholds = _thresholds(data["thresholds"], errors, recurring_allowed=alert.wallet_id is None)
        if errors:
            raise ValidationFailure(errors)
        try:
            with transaction.atomic():
                alert.save(update_fields=fields)
        except IntegrityError:
            raise ValidationFailure.single("base", "alert_already_exists") from None
        if thresholds is not None:
            _write_thresholds(alert, thresholds)
    return scope.get(id=alert.id)


def alert_update(
    organization: Organization, *, external_subscription_id: str, code: str, data: dict[str, Any]
) -> Alert:
    """Partial update: `code`, `name`, `billable_metric_code`, `thresholds` (replaced as a whole)."""
    alert = selectors.alert_get(organization, external_subscription_id, code)
    return _update(organization, alert, data, selectors.alert_list(organization, external_subscription_id))


def wallet_alert_update(organization: Organization, *, wallet: Any, code: str, data: dict[str, Any]) -> Alert:
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
