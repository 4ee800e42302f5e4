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


def _on_fixed_charge_units_changed(
    sender, fixed_charge, organization, at, apply_units_immediately, old_units, **kwargs
):
    """Receiver only: the plan's subscriptions get the new units, in a task, on commit."""
    from django.db import transaction

    from subscriptions.tasks import propagate_fixed_charge_units

    args = (str(fixed_charge.pk), at.isoformat(), bool(apply_units_immediately), str(old_units))
    transaction.on_commit(lambda: propagate_fixed_charge_units.delay(*args))


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"

    def ready(self) -> None:
        from catalog import hooks as catalog_hooks
        from catalog.signals import fixed_charge_units_changed, plan_deleted
        from customers import demo as customers_demo
        from customers.signals import customer_deleted
        from subscriptions import demo, selectors

        customer_deleted.connect(_on_customer_deleted, dispatch_uid="subscriptions.customer_deleted")
        plan_deleted.connect(_on_plan_deleted, dispatch_uid="subscriptions.plan_deleted")
        fixed_charge_units_changed.connect(
            _on_fixed_charge_units_changed, dispatch_uid="subscriptions.fixed_charge_units_changed"
        )
        catalog_hooks.plan_usage.fill(selectors.SubscriptionsPlanUsage())
        customers_demo.register_step("subscriptions", demo.seed_subscriptions)
        from django.core import checks

        from billing_project.core.hooks import hooks_check
        from subscriptions import hooks

        checks.register(hooks_check("subscriptions", hooks.ALL))
