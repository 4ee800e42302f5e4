from django.apps import AppConfig


def _on_events_ingested(sender, organization, external_subscription_ids, **kwargs):
    """Receiver only: mark the touched subscriptions something watches (alerts, usage thresholds)
    and enqueue one evaluation task, on commit, for each that has none pending."""
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
        from metering.signals import events_ingested

        events_ingested.connect(_on_events_ingested, dispatch_uid="usage_monitoring.events_ingested")
