from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"

    def ready(self) -> None:
        from customers import demo
        from invoicing import demo as invoicing_demo

        demo.register_step("invoices", invoicing_demo.seed_invoices)
        from invoicing.credits import receivers as credit_receivers

        credit_receivers.connect()  # credit notes for terminated in-advance subscriptions
        from invoicing import receivers

        receivers.connect()  # pay-in-advance charges: instant fees after event ingestion
        from invoicing.services.fixed_charges import fixed_charge_units_change_preview
        from subscriptions import hooks as subscription_hooks

        subscription_hooks.fixed_charge_preview.fill(fixed_charge_units_change_preview)
