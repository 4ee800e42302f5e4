from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.core import checks

        from billing_project.core.hooks import hooks_check
        from catalog import demo, hooks
        from catalog.customer_taxes import CatalogBillingEntityTaxes, CatalogCustomerTaxes
        from customers import demo as customers_demo
        from customers import hooks as customer_hooks

        checks.register(hooks_check("catalog", hooks.ALL))
        customer_hooks.customer_taxes.fill(CatalogCustomerTaxes())
        customer_hooks.billing_entity_taxes.fill(CatalogBillingEntityTaxes())
        customers_demo.register_step("catalog", demo.seed_catalog)
