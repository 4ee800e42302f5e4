from django.apps import AppConfig

from billing_project.core.localcache import LocalCache

# Whether an organization watches usage at all (a live usage alert, or a live usage threshold on
# any plan). Most organizations do not, and ingestion then needs no query for them. Cached per
# process for EVENTS_LOOKUP_CACHE_SECONDS; saving or deleting an Alert or a UsageThreshold in
# this process empties it, other processes see an organization's first alert/threshold within
# that delay (events meanwhile are evaluated with the next event's check, or by a later event).
_watching = LocalCache("usage_monitoring_watching", ttl_setting="EVENTS_LOOKUP_CACHE_SECONDS", default_ttl=5.0)


def _organization_watches_usage(organization) -> bool:
    cached = _watching.get(organization.pk)
    if cached is None:
        from catalog.models import UsageThreshold
        from usage_monitoring.models import Alert

        cached = (
            Alert.objects.filter(organization=organization, wallet__isnull=True, deleted_at__isnull=True).exists()
            or UsageThreshold.objects.filter(organization=organization, deleted_at__isnull=True).exists()
        )
        _watching.set(organization.pk, cached)
    return cached


def _forget_watching(*args, **kwargs) -> None:
    _watching.clear()


def _on_events_ingested(sender, organization, external_subscription_ids, **kwargs):
    """Receiver only: mark the touched subscriptions something watches (alerts, usage thresholds)
    and enqueue one evaluation task, on commit, for each that has none pending."""
    if not _organization_watches_usage(organization):
        return
    from django.db import transaction

    from usage_monitoring.services.evaluation import monitored_among, usage_activity_mark
    from usage_monitoring.tasks import evaluate_subscription

    watched = monitored_among(organization, external_subscription_ids)
    if not watched:
        return
    ids = usage_activity_mark(organization, watched)
    organization_id = str(organization.pk)

    def enqueue() -> None:
        for external_id in ids:
            evaluate_subscription.delay(organization_id, external_id)

    if ids:
        transaction.on_commit(enqueue, robust=True)


class UsageMonitoringConfig(AppConfig):
    """Usage alerts, lifetime usage and progressive billing (Lago's `usage_monitoring`)."""

    name = "usage_monitoring"
    verbose_name = "Usage monitoring"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from metering.signals import events_ingested
        from subscriptions import hooks as subscription_hooks
        from usage_monitoring.admin import usage_monitoring_summary

        subscription_hooks.usage_monitoring_summary.fill(usage_monitoring_summary)
        events_ingested.connect(_on_events_ingested, dispatch_uid="usage_monitoring.events_ingested")
        for sender in ("usage_monitoring.Alert", "catalog.UsageThreshold"):
            post_save.connect(_forget_watching, sender=sender, dispatch_uid=f"usage_monitoring.watching.save.{sender}")
            post_delete.connect(
                _forget_watching, sender=sender, dispatch_uid=f"usage_monitoring.watching.delete.{sender}"
            )
