from django.apps import AppConfig


class UcpConfig(AppConfig):
    name = "ucp"
    verbose_name = "UCP (agentic commerce)"

    def ready(self) -> None:
        from invoicing.signals import credit_note_refund_requested, invoices_finalized
        from subscriptions.signals import subscription_canceled, subscription_terminated
        from ucp import receivers

        invoices_finalized.connect(receivers.on_invoices_finalized, dispatch_uid="ucp.order_invoices")
        credit_note_refund_requested.connect(receivers.on_credit_note, dispatch_uid="ucp.order_credit_note")
        subscription_terminated.connect(receivers.on_subscription_ended, dispatch_uid="ucp.order_terminated")
        subscription_canceled.connect(receivers.on_subscription_ended, dispatch_uid="ucp.order_canceled")
