from django.apps import AppConfig


def _on_customer_deleted(sender, customer, organization, **kwargs):
    """Receiver only: terminate the customer's subscriptions in a task, once the delete commits."""
    from django.db import transaction

    from subscriptions.tasks import terminate_for_customer

    customer_id = str(customer.pk)
    transaction.on_commit(lambda: terminate_for_customer.delay(customer_id))


def _on_plan_deleted(sender, plan, organization, **kwargs):
    """Receiver only: Lago terminates a deleted plan's subscriptions; done in a task, on commit."""
    from django.db import transaction

    from subscriptions.tasks import terminate_for_plan

    plan_id = str(plan.pk)
    transaction.on_commit(lambda: terminate_for_plan.delay(plan_id))


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"

    def ready(self) -> None:
        from catalog import hooks as catalog_hooks
        from catalog.signals import plan_deleted
        from customers import demo as customers_demo
        from customers.signals import customer_deleted
        from subscriptions import demo, selectors

        customer_deleted.connect(_on_customer_deleted, dispatch_uid="subscriptions.customer_deleted")
        plan_deleted.connect(_on_plan_deleted, dispatch_uid="subscriptions.plan_deleted")
        catalog_hooks.plan_usage.fill(selectors.SubscriptionsPlanUsage())
        customers_demo.register_step("subscriptions", demo.seed_subscriptions)
