from django.urls import path

from metering.api import views

urlpatterns = [
    path("events", views.EventCollectionView.as_view(), name="events"),
    path("events/batch", views.EventBatchView.as_view(), name="events-batch"),
    path("events/estimate_fees", views.EventEstimateFeesView.as_view(), name="events-estimate-fees"),
    path(
        "events/estimate_instant_fees",
        views.EventEstimateInstantFeesView.as_view(),
        name="events-estimate-instant-fees",
    ),
    path(
        "events/batch_estimate_instant_fees",
        views.EventBatchEstimateInstantFeesView.as_view(),
        name="events-batch-estimate-instant-fees",
    ),
    path("event_errors", views.EventErrorCollectionView.as_view(), name="event-errors"),
    path("events/<str:transaction_id>", views.EventDetailView.as_view(), name="event-detail"),
]
