from billing_project.core.api.resources import route, routes_under
from metering.api import views as v

urlpatterns = [
    route("events", v.EventCollectionView, "events"),
    *routes_under(
        "events",
        "events",
        {
            "batch": v.EventBatchView,
            "estimate_fees": v.EventEstimateFeesView,
            "estimate_instant_fees": v.EventEstimateInstantFeesView,
            "batch_estimate_instant_fees": v.EventBatchEstimateInstantFeesView,
        },
    ),
    route("event_errors", v.EventErrorCollectionView, "event-errors"),
    route("events/<str:transaction_id>", v.EventDetailView, "event-detail"),
]
