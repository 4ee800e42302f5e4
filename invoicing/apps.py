from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"

    def ready(self) -> None:
        from customers import demo, extensions
        from invoicing import demo as invoicing_demo
        from invoicing import selectors

        extensions.register(
            extensions.CustomerExtension(name="invoicing", billed_currencies=selectors.customer_billed_currencies)
        )
        demo.register_step("invoices", invoicing_demo.seed_invoices)
        from invoicing import credit_receivers

        credit_receivers.connect()  # credit notes for terminated in-advance subscriptions
        from invoicing import receivers

        receivers.connect()  # pay-in-advance charges: instant fees after event ingestion
