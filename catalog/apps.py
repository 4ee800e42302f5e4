from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import demo, hooks
        from customers import demo as customers_demo
        from customers import extensions

        extensions.register(
            extensions.CustomerExtension(
                name="catalog.taxes",
                validate=hooks.customer_tax_codes_validate,
                apply=hooks.customer_taxes_apply,
                represent=hooks.customer_taxes_represent,
                locked_read_annotations=hooks.customer_has_taxes_annotation,
                prefetch=("tax_links__tax",),
            )
        )
        customers_demo.register_step("catalog", demo.seed_catalog)
