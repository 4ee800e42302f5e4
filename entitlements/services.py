"""Writes of the entitlements app, as Lago's `Entitlement::*Service`s do them. Each owns its transaction.

Deletes are soft (`deleted_at`, saved row by row so the audit trail records them). Every change
sends Lago's webhook in the same transaction (an outbox): `feature.created` / `feature.updated` /
`feature.deleted`, `plan.updated` for a plan's entitlements and `subscription.updated` for a
subscription's overrides (docs/entitlements.md, "Webhooks").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from catalog import selectors as catalog_selectors
from catalog.models import BillableMetric, Plan
from customers.models import Organization
from entitlements import selectors
from entitlements.models import (
    Entitlement,
    EntitlementsVersion,
    EntitlementValue,
    Feature,
    Privilege,
    SubscriptionFeatureRemoval,
    ValueType,
)
from entitlements.values import VALUE_TYPES, InvalidValue, same_value, select_config_valid, stored_value
from subscriptions.models import Subscription
from webhooks.services import webhook_send


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class PrivilegeInput:
    """One privilege of a feature payload; UNSET fields were not sent."""

    code: str
    name: Any = UNSET  # str | None
    value_type: Any = UNSET  # str
    config: Any = UNSET  # dict
    billable_metric_code: Any = UNSET  # str | None (bxb extra)


EntitlementsInput = Mapping[str, Mapping[str, Any]]  # feature code -> {privilege code: value}


# --- helpers ---------------------------------------------------------------------------------------


def _touch(organization_id: Any) -> None:
    """Increment the organization's entitlements version (inside the caller's transaction): every
    worker's cached entitlements of the organization are stale from the commit on."""
    if EntitlementsVersion.objects.filter(organization_id=organization_id).update(version=F("version") + 1):
        return
    try:
        with transaction.atomic():
            EntitlementsVersion.objects.create(organization_id=organization_id, version=1)
    except IntegrityError:  # created meanwhile by another transaction
        EntitlementsVersion.objects.filter(organization_id=organization_id).update(version=F("version") + 1)


def _soft_delete(rows: Iterable[Any], now: Any = None) -> None:
    now = now or timezone.now()
    for row in rows:
        if row.deleted_at is None:
            row.deleted_at = now
            row.save(update_fields=["deleted_at", "updated_at"])


def _feature_for_update(organization: Organization, code: str) -> Feature:
    return found(Feature.live.select_for_update().filter(organization=organization, code=code).first(), "feature")


def _duplicated(privileges: list[PrivilegeInput]) -> bool:
    codes = [p.code for p in privileges]
    return len(codes) != len(set(codes))


def _metric(organization: Organization, code: Any) -> BillableMetric | None:
    if code in (None, ""):
        return None
    try:
        return catalog_selectors.billable_metric_get(organization, code)
    except NotFoundFailure:
        raise NotFoundFailure("billable_metric") from None


def _privilege_errors(value_type: str, config: Any, metric: BillableMetric | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if value_type not in VALUE_TYPES:
        errors["privilege.value_type"] = ["value_is_invalid"]
    elif not select_config_valid(value_type, config):
        errors["privilege.config"] = ["invalid_format"]
    if metric is not None and value_type != ValueType.INTEGER:
        errors["privilege.billable_metric_code"] = ["value_type_must_be_integer"]
    return errors


def _create_privilege(organization: Organization, feature: Feature, item: PrivilegeInput) -> Privilege:
    code = (item.code or "").strip()
    if not code:
        raise ValidationFailure.single("privilege.code", "value_is_mandatory")
    if len(code) > 255:
        raise ValidationFailure.single("privilege.code", "value_is_too_long")
    value_type = ValueType.STRING.value if item.value_type is UNSET or item.value_type is None else item.value_type
    config = {} if item.config is UNSET or item.config is None else item.config
    metric = None if item.billable_metric_code is UNSET else _metric(organization, item.billable_metric_code)
    errors = _privilege_errors(value_type, config, metric)
    name = None if item.name is UNSET else item.name
    if name is not None and len(name) > 255:
        errors["privilege.name"] = ["value_is_too_long"]
    if errors:
        raise ValidationFailure(errors)
    return Privilege.objects.create(
        organization=organization,
        feature=feature,
        code=code,
        name=name,
        value_type=value_type,
        config=config,
        billable_metric=metric,
    )


def _check_feature_fields(name: Any, description: Any) -> None:
    errors: dict[str, list[str]] = {}
    if name not in (UNSET, None) and len(name) > 255:
        errors["name"] = ["value_is_too_long"]
    if description not in (UNSET, None) and len(description) > 600:
        errors["description"] = ["value_is_too_long"]
    if errors:
        raise ValidationFailure(errors)


def _plans_of(feature: Feature) -> list[Plan]:
    plan_ids = Entitlement.live.filter(feature=feature, plan__isnull=False).values_list("plan_id", flat=True)
    return list(Plan.objects.filter(pk__in=list(plan_ids)))


# --- webhooks ----------------------------------------------------------------------------------------


def _emit_feature(feature: Feature, webhook_type: str) -> None:
    from entitlements.representation import feature_payload

    _touch(feature.organization_id)

    def payload() -> Mapping[str, Any]:
        fresh = Feature.objects.filter(pk=feature.pk).prefetch_related(selectors._live_privileges()).first()
        return feature_payload(fresh or feature)

    webhook_send(feature.organization, webhook_type=webhook_type, object_type="feature", payload=payload)


def _emit_plan(plan: Plan) -> None:
    """Lago's `plan.updated` after a change of the plan's entitlements: the plan and its entitlements."""
    from catalog.api.serializers import PlanOutput
    from entitlements.representation import plan_entitlement_payload

    _touch(plan.organization_id)

    def payload() -> dict[str, Any]:
        fresh = catalog_selectors.plan_get_by_id(plan.organization, plan.pk)
        body = dict(PlanOutput(fresh).data)
        body["entitlements"] = [plan_entitlement_payload(e) for e in selectors.plan_entitlement_list(fresh)]
        return body

    webhook_send(plan.organization, webhook_type="plan.updated", object_type="plan", payload=payload)


def _emit_subscription(subscription: Subscription) -> None:
    """Lago's `subscription.updated` after a change of the subscription's entitlements, with them."""
    from entitlements.representation import subscription_entitlement_payload
    from subscriptions.representation import subscription_payload

    _touch(subscription.organization_id)

    def payload() -> dict[str, Any]:
        body = subscription_payload(subscription)
        body["entitlements"] = [
            subscription_entitlement_payload(e)
            for e in selectors.subscription_entitlements(subscription.organization, subscription, with_usage=False)
        ]
        return body

    webhook_send(
        subscription.organization, webhook_type="subscription.updated", object_type="subscription", payload=payload
    )


# --- features ------------------------------------------------------------------------------------


def feature_create(
    organization: Organization,
    *,
    code: str,
    name: str | None = None,
    description: str | None = None,
    privileges: list[PrivilegeInput] | None = None,
) -> Feature:
    """`POST /features`. 422 `code: value_already_exist` when a live feature has the code."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailure.single("code", "value_is_mandatory")
    if len(code) > 255:
        raise ValidationFailure.single("code", "value_is_too_long")
    _check_feature_fields(name, description)
    privileges = privileges or []
    if _duplicated(privileges):
        raise ValidationFailure.single("privilege.code", "value_is_duplicated")
    try:
        with transaction.atomic():
            if Feature.live.filter(organization=organization, code=code).exists():
                raise ValidationFailure.single("code", "value_already_exist")
            feature = Feature.objects.create(organization=organization, code=code, name=name, description=description)
            for item in privileges:
                _create_privilege(organization, feature, item)
            _emit_feature(feature, "feature.created")
    except IntegrityError:
        raise ValidationFailure.single("code", "value_already_exist") from None
    return selectors.feature_get(organization, code)


def feature_update(
    organization: Organization,
    *,
    code: str,
    name: Any = UNSET,
    description: Any = UNSET,
    privileges: list[PrivilegeInput] | None = None,
    partial: bool = True,
) -> Feature:
    """`PUT /features/{code}` (Lago updates partially): name and description when sent; each sent
    privilege is created, or renamed and its select options extended (a privilege's type never
    changes). With `partial=False` the privileges not sent are deleted."""
    _check_feature_fields(name, description)
    privileges = privileges or []
    if _duplicated(privileges):
        raise ValidationFailure.single("privilege.code", "value_is_duplicated")
    with transaction.atomic():
        feature = _feature_for_update(organization, code)
        if name is not UNSET:
            feature.name = name
        if description is not UNSET:
            feature.description = description
        feature.save()
        existing = {p.code: p for p in Privilege.live.filter(feature=feature)}
        if not partial:
            sent = {p.code for p in privileges}
            for gone in existing.values():
                if gone.code not in sent:
                    _privilege_delete(gone)
        for item in privileges:
            privilege = existing.get(item.code)
            if privilege is None:
                _create_privilege(organization, feature, item)
                continue
            if item.name is not UNSET:
                if item.name is not None and len(item.name) > 255:
                    raise ValidationFailure.single("privilege.name", "value_is_too_long")
                privilege.name = item.name
            if isinstance(item.config, Mapping) and item.config.get("select_options"):
                if privilege.value_type != ValueType.SELECT or not select_config_valid(
                    ValueType.SELECT, {"select_options": item.config["select_options"]}
                ):
                    raise ValidationFailure.single("privilege.config", "invalid_format")
                options = list((privilege.config or {}).get("select_options") or [])
                options += [o for o in item.config["select_options"] if o not in options]
                privilege.config = {"select_options": options}
            if item.billable_metric_code is not UNSET:
                metric = _metric(organization, item.billable_metric_code)
                errors = _privilege_errors(privilege.value_type, privilege.config, metric)
                if errors:
                    raise ValidationFailure(errors)
                privilege.billable_metric = metric
            privilege.save()
        _emit_feature(feature, "feature.updated")
        for plan in _plans_of(feature):
            _emit_plan(plan)
    return selectors.feature_get(organization, code)


def _privilege_delete(privilege: Privilege) -> None:
    now = timezone.now()
    _soft_delete(EntitlementValue.live.filter(privilege=privilege), now)
    _soft_delete(SubscriptionFeatureRemoval.live.filter(privilege=privilege), now)
    _soft_delete([privilege], now)


def feature_delete(organization: Organization, *, code: str) -> Feature:
    """`DELETE /features/{code}`: the feature leaves every plan and subscription."""
    with transaction.atomic():
        feature = _feature_for_update(organization, code)
        plans = _plans_of(feature)
        now = timezone.now()
        payload_feature = selectors.feature_get(organization, code)
        entitlements = list(Entitlement.live.filter(feature=feature))
        _soft_delete(EntitlementValue.live.filter(entitlement__in=entitlements), now)
        _soft_delete(entitlements, now)
        _soft_delete(SubscriptionFeatureRemoval.live.filter(feature=feature), now)
        for privilege in Privilege.live.filter(feature=feature):
            _privilege_delete(privilege)
        _soft_delete([feature], now)
        from entitlements.representation import feature_payload

        body = feature_payload(payload_feature)
        _touch(organization.pk)
        webhook_send(organization, webhook_type="feature.deleted", object_type="feature", payload=body)
        for plan in plans:
            _emit_plan(plan)
    return payload_feature


def feature_privilege_delete(organization: Organization, *, code: str, privilege_code: str) -> Feature:
    """`DELETE /features/{code}/privileges/{privilege_code}`: the privilege leaves every plan and subscription."""
    with transaction.atomic():
        feature = _feature_for_update(organization, code)
        privilege = found(Privilege.live.filter(feature=feature, code=privilege_code).first(), "privilege")
        _privilege_delete(privilege)
        _emit_feature(feature, "feature.updated")
        for plan in _plans_of(feature):
            _emit_plan(plan)
    return selectors.feature_get(organization, code)


# --- plan entitlements ---------------------------------------------------------------------------


def _features_by_code(organization: Organization, codes: Iterable[str]) -> dict[str, Feature]:
    features = {f.code: f for f in Feature.live.filter(organization=organization, code__in=list(codes))}
    return features


def _privileges_of(feature: Feature) -> dict[str, Privilege]:
    return {p.code: p for p in Privilege.live.filter(feature=feature)}


def _stored(privilege: Privilege, value: Any) -> str:
    try:
        return stored_value(value, privilege.value_type, privilege.config)
    except InvalidValue as error:
        raise ValidationFailure.single(f"{privilege.code}_privilege_value", error.code) from None


def _check_entitlements_input(entitlements: Any) -> None:
    if not isinstance(entitlements, Mapping) or any(
        not isinstance(values, Mapping) and values is not None for values in entitlements.values()
    ):
        raise ValidationFailure.single("entitlements", "value_is_invalid")


def plan_entitlements_update(
    organization: Organization,
    *,
    plan_code: str,
    entitlements: EntitlementsInput,
    partial: bool,
    replace_values: bool | None = None,
) -> list[Entitlement]:
    """`POST` (replace: `partial=False`) and `PATCH` (`partial=True`) `/plans/{code}/entitlements`.

    Replace: features not sent leave the plan, and privileges not sent leave each sent feature.
    Both: each sent feature is granted with the sent values (404 `feature_not_found`,
    `privilege_not_found`; 422 `<privilege>_privilege_value` for a value its type refuses).
    `replace_values` (default: `not partial`): the values not sent leave each sent feature (the
    admin replaces one feature's values and keeps the plan's other features).
    """
    _check_entitlements_input(entitlements)
    if replace_values is None:
        replace_values = not partial
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=selectors.entitlement_plan(organization, plan_code).pk)
        live = {e.feature_id: e for e in Entitlement.live.filter(plan=plan).select_related("feature")}
        features = _features_by_code(organization, entitlements.keys())
        if len(features) != len(entitlements):
            raise NotFoundFailure("feature")
        now = timezone.now()
        if not partial:
            sent_ids = {f.pk for f in features.values()}
            for feature_id, entitlement in live.items():
                if feature_id not in sent_ids:
                    _soft_delete(EntitlementValue.live.filter(entitlement=entitlement), now)
                    _soft_delete([entitlement], now)
        for feature_code, privilege_values in entitlements.items():
            feature = features[feature_code]
            privilege_values = privilege_values or {}
            privileges = _privileges_of(feature)
            for privilege_code in privilege_values:
                if privilege_code not in privileges:
                    raise NotFoundFailure("privilege")
            found = live.get(feature.pk)
            if found is None:
                entitlement = Entitlement.objects.create(organization=organization, feature=feature, plan=plan)
                existing: dict[Any, EntitlementValue] = {}
            else:
                entitlement = found
                existing = {v.privilege_id: v for v in EntitlementValue.live.filter(entitlement=entitlement)}
                if replace_values and privilege_values:
                    sent = {privileges[c].pk for c in privilege_values}
                    _soft_delete([v for pid, v in existing.items() if pid not in sent], now)
            for privilege_code, value in privilege_values.items():
                privilege = privileges[privilege_code]
                text = _stored(privilege, value)
                current = existing.get(privilege.pk)
                if current is None:
                    EntitlementValue.objects.create(
                        organization=organization, entitlement=entitlement, privilege=privilege, value=text
                    )
                elif current.value != text:
                    current.value = text
                    current.save()
        _emit_plan(plan)
    return selectors.plan_entitlement_list(plan)


def plan_entitlement_delete(organization: Organization, *, plan_code: str, feature_code: str) -> Entitlement:
    """`DELETE /plans/{code}/entitlements/{feature_code}`: the feature leaves the plan; answers it as it was."""
    plan = selectors.entitlement_plan(organization, plan_code)
    with transaction.atomic():
        entitlement = selectors.plan_entitlement_get(plan, feature_code)
        now = timezone.now()
        _soft_delete(EntitlementValue.live.filter(entitlement=entitlement), now)
        _soft_delete([entitlement], now)
        _emit_plan(plan)
    return entitlement


def plan_entitlement_privilege_delete(
    organization: Organization, *, plan_code: str, feature_code: str, privilege_code: str
) -> Entitlement:
    """`DELETE /plans/{code}/entitlements/{feature_code}/privileges/{privilege_code}`: the value
    leaves the plan's entitlement; the privilege stays on the feature."""
    plan = selectors.entitlement_plan(organization, plan_code)
    with transaction.atomic():
        entitlement = selectors.plan_entitlement_get(plan, feature_code)
        value = found(
            EntitlementValue.live.filter(entitlement=entitlement, privilege__code=privilege_code).first(), "privilege"
        )
        _soft_delete([value])
        _emit_plan(plan)
    return selectors.plan_entitlement_get(plan, feature_code)


# --- subscription overrides -----------------------------------------------------------------------


def _lock(subscription: Subscription) -> None:
    Subscription.objects.select_for_update(of=("self",)).filter(pk=subscription.pk).first()


def _clear_removals(
    subscription: Subscription, *, feature: Feature | None = None, privileges: Iterable[Privilege] = ()
) -> None:
    qs = SubscriptionFeatureRemoval.live.filter(subscription=subscription)
    rows = []
    if feature is not None:
        rows += list(qs.filter(feature=feature))
    ids = [p.pk for p in privileges]
    if ids:
        rows += list(qs.filter(privilege_id__in=ids))
    _soft_delete(rows)


def _add_removal(
    subscription: Subscription, *, feature: Feature | None = None, privilege: Privilege | None = None
) -> None:
    qs = SubscriptionFeatureRemoval.live.filter(subscription=subscription)
    if feature is not None and not qs.filter(feature=feature).exists():
        SubscriptionFeatureRemoval.objects.create(
            organization_id=subscription.organization_id, subscription=subscription, feature=feature
        )
    if privilege is not None and not qs.filter(privilege=privilege).exists():
        SubscriptionFeatureRemoval.objects.create(
            organization_id=subscription.organization_id, subscription=subscription, privilege=privilege
        )


def _override_feature(
    subscription: Subscription,
    feature: Feature,
    privilege_values: Mapping[str, Any],
    plan_entitlement: Entitlement | None,
    sub_entitlement: Entitlement | None,
) -> None:
    """One feature of a subscription PATCH (Lago's `SubscriptionEntitlementCoreUpdateService`, partial)."""
    privileges = _privileges_of(feature)
    for code in privilege_values:
        if code not in privileges:
            raise NotFoundFailure("privilege")
    stored = {code: _stored(privileges[code], value) for code, value in privilege_values.items()}
    plan_values = (
        {v.privilege_id: v for v in EntitlementValue.live.filter(entitlement=plan_entitlement)}
        if plan_entitlement is not None
        else {}
    )
    sub_values = (
        {v.privilege_id: v for v in EntitlementValue.live.filter(entitlement=sub_entitlement)}
        if sub_entitlement is not None
        else {}
    )
    organization_id = subscription.organization_id
    if plan_entitlement is None and sub_entitlement is None:
        _clear_removals(subscription, feature=feature)
        entitlement = Entitlement.objects.create(
            organization_id=organization_id, feature=feature, subscription=subscription
        )
        for code, text in stored.items():
            EntitlementValue.objects.create(
                organization_id=organization_id, entitlement=entitlement, privilege=privileges[code], value=text
            )
        return
    by_id = {p.pk: p for p in privileges.values()}
    if plan_entitlement is not None and _same_as_plan(stored, plan_values, by_id):
        # Exactly the plan's values: the overrides go and the subscription follows the plan again.
        _soft_delete(sub_values.values())
        if sub_entitlement is not None:
            _soft_delete([sub_entitlement])
        _clear_removals(subscription, feature=feature, privileges=privileges.values())
        return
    _clear_removals(subscription, feature=feature)
    if sub_entitlement is None:
        sub_entitlement = Entitlement.objects.create(
            organization_id=organization_id, feature=feature, subscription=subscription
        )
    for code, text in stored.items():
        privilege = privileges[code]
        plan_value = plan_values.get(privilege.pk)
        sub_value = sub_values.get(privilege.pk)
        if plan_value is not None and same_value(privilege.value_type, text, plan_value.value):
            if sub_value is not None:
                _soft_delete([sub_value])
            _clear_removals(subscription, privileges=[privilege])
        elif sub_value is None:
            _clear_removals(subscription, privileges=[privilege])
            EntitlementValue.objects.create(
                organization_id=organization_id, entitlement=sub_entitlement, privilege=privilege, value=text
            )
        elif not same_value(privilege.value_type, text, sub_value.value):
            sub_value.value = text
            sub_value.save()


def _same_as_plan(
    stored: Mapping[str, str], plan_values: Mapping[Any, EntitlementValue], by_id: Mapping[Any, Privilege]
) -> bool:
    plan_codes = {by_id[pid].code: v for pid, v in plan_values.items() if pid in by_id}
    if sorted(plan_codes) != sorted(stored):
        return False
    return all(same_value(by_id[v.privilege_id].value_type, v.value, stored[code]) for code, v in plan_codes.items())


def subscription_entitlements_update(
    organization: Organization, *, external_id: str, status: str | None, entitlements: EntitlementsInput
) -> Subscription:
    """`PATCH /subscriptions/{external_id}/entitlements`: overrides on top of the plan.

    A sent feature the subscription lacks is added with the sent values; for one it has, each sent
    value that differs from the plan's becomes an override, and a value equal to the plan's drops
    the override (the plan's value applies again). Features and privileges not sent are untouched.
    """
    _check_entitlements_input(entitlements)
    subscription = selectors.subscription_for(organization, external_id, status=status)
    with transaction.atomic():
        _lock(subscription)
        features = _features_by_code(organization, entitlements.keys())
        if len(features) != len(entitlements):
            raise NotFoundFailure("feature")
        plan_id = selectors.entitlement_plan_id(subscription)
        ids = [f.pk for f in features.values()]
        plan_rows = {e.feature_id: e for e in Entitlement.live.filter(plan_id=plan_id, feature_id__in=ids)}
        sub_rows = {e.feature_id: e for e in Entitlement.live.filter(subscription=subscription, feature_id__in=ids)}
        for code, privilege_values in entitlements.items():
            feature = features[code]
            _override_feature(
                subscription, feature, privilege_values or {}, plan_rows.get(feature.pk), sub_rows.get(feature.pk)
            )
        _emit_subscription(subscription)
    return subscription


def subscription_feature_remove(
    organization: Organization, *, external_id: str, status: str | None, feature_code: str
) -> Subscription:
    """`DELETE /subscriptions/{external_id}/entitlements/{feature_code}`: the subscription's overrides
    of the feature go, and a feature its plan grants is removed from this subscription (Lago's
    behaviour; a later PATCH of the feature brings it back)."""
    subscription = selectors.subscription_for(organization, external_id, status=status)
    with transaction.atomic():
        feature = _locked_feature(organization, subscription, feature_code)
        _drop_subscription_entitlement(subscription, feature)
        _clear_removals(subscription, privileges=Privilege.objects.filter(feature=feature))
        _remove_granted(subscription, feature)
    return subscription


def _locked_feature(organization: Organization, subscription: Subscription, feature_code: str) -> Feature:
    """The subscription locked (`_lock`), then the organization's feature with this code (404)."""
    _lock(subscription)
    return found(Feature.live.filter(organization=organization, code=feature_code).first(), "feature")


def _drop_subscription_entitlement(subscription: Subscription, feature: Feature) -> None:
    """The subscription's own entitlement of the feature and its values go (soft delete)."""
    entitlement = Entitlement.live.filter(subscription=subscription, feature=feature).first()
    if entitlement is not None:
        _soft_delete(EntitlementValue.live.filter(entitlement=entitlement))
        _soft_delete([entitlement])


def _remove_granted(subscription: Subscription, feature: Feature, privilege: Privilege | None = None) -> None:
    """When the subscription's plan grants `feature`, remove it (or only `privilege`) from this
    subscription; the subscription's entitlements changed either way."""
    plan_id = selectors.entitlement_plan_id(subscription)
    if Entitlement.live.filter(plan_id=plan_id, feature=feature).exists():
        if privilege is None:
            _add_removal(subscription, feature=feature)
        else:
            _add_removal(subscription, privilege=privilege)
    _emit_subscription(subscription)


def subscription_privilege_remove(
    organization: Organization, *, external_id: str, status: str | None, feature_code: str, privilege_code: str
) -> Subscription:
    """`DELETE /subscriptions/{external_id}/entitlements/{feature_code}/privileges/{privilege_code}`:
    the override of the privilege goes, and when the plan grants the feature the privilege is
    removed from this subscription (Lago's behaviour)."""
    subscription = selectors.subscription_for(organization, external_id, status=status)
    with transaction.atomic():
        feature = _locked_feature(organization, subscription, feature_code)
        privilege = found(Privilege.live.filter(feature=feature, code=privilege_code).first(), "privilege")
        _soft_delete(
            EntitlementValue.live.filter(
                entitlement__subscription=subscription, entitlement__deleted_at__isnull=True, privilege=privilege
            )
        )
        _remove_granted(subscription, feature, privilege)
    return subscription


def subscription_overrides_clear(
    organization: Organization, *, subscription: Subscription, feature_code: str, privileges: Iterable[str] = ()
) -> Subscription:
    """The admin's "delete override": the subscription's own rows for the feature go (no removal
    is added), so the plan's values apply again. Privilege removals of those privileges go too."""
    with transaction.atomic():
        feature = _locked_feature(organization, subscription, feature_code)
        _drop_subscription_entitlement(subscription, feature)
        _clear_removals(
            subscription,
            feature=feature,
            privileges=Privilege.objects.filter(feature=feature, code__in=list(privileges)),
        )
        _emit_subscription(subscription)
    return subscription
