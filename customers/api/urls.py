from billing_project.core.api.resources import resource_routes, route
from customers.api import views as v

urlpatterns = [
    *resource_routes("customers", "external_id", v.CustomerCollectionView, v.CustomerDetailView),
    route("organizations", v.OrganizationView, "organization"),
]
