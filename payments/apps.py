from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from customers import hooks as customer_hooks
        from customers.signals import customer_upserted
        from invoicing.signals import credit_note_created, credit_note_refund_requested, invoice_finalized
        from payments import receivers
        from payments.services.method_choice import SavedPaymentMethods

        customer_hooks.customer_payment_methods.fill(SavedPaymentMethods())

        invoice_finalized.connect(receivers.on_invoice_finalized, dispatch_uid="payments.collect_on_finalize")
        credit_note_refund_requested.connect(
            receivers.on_credit_note_refund_requested, dispatch_uid="payments.refund_credit_note"
        )
        credit_note_created.connect(receivers.on_credit_note_created, dispatch_uid="payments.email_credit_note")
        customer_upserted.connect(receivers.on_customer_upserted, dispatch_uid="payments.provider_customer")
