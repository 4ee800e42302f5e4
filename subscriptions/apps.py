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
        from catalog import extensions as catalog_extensions
        from catalog.signals import plan_deleted
        from customers import demo as customers_demo
        from customers import extensions as customer_extensions
        from customers.signals import customer_deleted
        from metering.extensions import register_charges_period_lookup, register_subscription_lookup
        from subscriptions import demo, selectors

        customer_deleted.connect(_on_customer_deleted, dispatch_uid="subscriptions.customer_deleted")
        plan_deleted.connect(_on_plan_deleted, dispatch_uid="subscriptions.plan_deleted")
        register_subscription_lookup(selectors.subscription_refs)
        register_charges_period_lookup(selectors.charges_period_of_ref)
        catalog_extensions.register_plan_in_use(selectors.plan_in_use)
        catalog_extensions.register_plan_counter(
            "active_subscriptions_count", selectors.plan_active_subscriptions_count
        )
        catalog_extensions.register_plan_counter("customers_count", selectors.plan_customers_count)
        customers_demo.register_step("subscriptions", demo.seed_subscriptions)
        customer_extensions.register(
            customer_extensions.CustomerExtension(
                name="subscriptions", billed_currencies=selectors.customer_subscription_currencies
            )
        )
