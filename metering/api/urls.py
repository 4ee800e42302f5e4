from billing_project.core.api.resources import route
from metering.api import views as v

urlpatterns = [
    route("events", v.EventCollectionView, "events"),
    route("events/batch", v.EventBatchView, "events-batch"),
    route("events/estimate_fees", v.EventEstimateFeesView, "events-estimate-fees"),
    route("events/estimate_instant_fees", v.EventEstimateInstantFeesView, "events-estimate-instant-fees"),
    route(
        "events/batch_estimate_instant_fees",
        v.EventBatchEstimateInstantFeesView,
        "events-batch-estimate-instant-fees",
    ),
    route("event_errors", v.EventErrorCollectionView, "event-errors"),
    route("events/<str:transaction_id>", v.EventDetailView, "event-detail"),
]
