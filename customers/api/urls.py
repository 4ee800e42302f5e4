from billing_project.core.api.resources import resource_routes, route
from customers.api import entities as e
from customers.api import views as v

urlpatterns = [
    *resource_routes("customers", "external_id", v.CustomerCollectionView, v.CustomerDetailView),
    route("organizations", v.OrganizationView, "organization"),
    *resource_routes("billing_entities", "code", e.BillingEntityCollectionView, e.BillingEntityDetailView),
    route("invoice_custom_sections", e.InvoiceCustomSectionCollectionView),
    route("invoice_custom_sections/<str:code>", e.InvoiceCustomSectionDetailView),
]
