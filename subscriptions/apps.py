from django.apps import AppConfig


def _on_customer_deleted(sender, customer, organization, **kwargs):
    """Receiver only: terminate the customer's subscriptions in a task, once the delete commits."""
    from django.db import transaction

    from subscriptions.tasks import terminate_for_customer

    customer_id = str(customer.pk)
    transaction.on_commit(lambda: terminate_for_customer.delay(customer_id))


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"

    def ready(self) -> None:
        from customers.signals import customer_deleted
        from metering.extensions import register_subscription_lookup
        from subscriptions import selectors

        customer_deleted.connect(_on_customer_deleted, dispatch_uid="subscriptions.customer_deleted")
        register_subscription_lookup(selectors.subscription_refs)
