from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers", views.CustomerCollectionView.as_view(), name="customers"),
    path("customers/<str:external_id>", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("organizations", views.OrganizationView.as_view(), name="organization"),
]
