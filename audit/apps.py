from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import context, recorder

        recorder.connect_audited_models()
        context.connect_celery_signals()
        recorder.route_admin_history_to_audit_log()
