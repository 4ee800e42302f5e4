from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"

    def ready(self) -> None:
        from customers import demo
        from customers import hooks as customer_hooks
        from invoicing import demo as invoicing_demo
        from invoicing import selectors

        customer_hooks.billed_currencies.fill(selectors.customer_billed_currencies)
        demo.register_step("invoices", invoicing_demo.seed_invoices)
        from invoicing.credits import receivers as credit_receivers

        credit_receivers.connect()  # credit notes for terminated in-advance subscriptions
        from invoicing import receivers

        receivers.connect()  # pay-in-advance charges: instant fees after event ingestion
        from invoicing.services.fixed_charges import fixed_charge_units_change_preview
        from subscriptions import hooks as subscription_hooks

        subscription_hooks.fixed_charge_preview.fill(fixed_charge_units_change_preview)
