"""UCP's REST binding for one organization at /ucp/<slug>/ (docs/ucp.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ucp import profile
from ucp.http import json_response, ucp_view
from ucp.models import UcpSettings
from ucp.protocol import UcpError

# Profiles are stable documents: shared caches may keep them five minutes (the specification asks
# for `public` and at least 60 seconds, never private/no-store/no-cache).
PROFILE_CACHE_CONTROL = "public, max-age=300"


@require_GET
@ucp_view
def well_known(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    return json_response(profile.business_profile(settings), headers={"Cache-Control": PROFILE_CACHE_CONTROL})


@require_GET
@ucp_view
def payment_handler_spec(request: HttpRequest, settings: UcpSettings, code: str) -> HttpResponse:
    """What a platform needs to use one of the organization's payment handlers."""
    handlers = profile.payment_handlers(settings)
    for name, entries in handlers.items():
        for entry in entries:
            if entry["id"] == code:
                return json_response(
                    {
                        "name": name,
                        "id": code,
                        "version": entry["version"],
                        "available_instruments": entry["available_instruments"],
                        "config": entry["config"],
                        "credential": _credential_doc(entry["config"]["provider"]),
                    },
                    headers={"Cache-Control": PROFILE_CACHE_CONTROL},
                )
    raise UcpError(404, "not_found", "No such payment handler")


def _credential_doc(provider: str) -> dict[str, str]:
    if provider == "stripe":
        return {
            "type": "stripe_payment_method",
            "token": "A Stripe PaymentMethod id (pm_...) created with the business's Stripe account; "
            "it is charged once at completion and saved for the subscription's later invoices.",
        }
    return {"type": "none", "token": "No credential: the invoice is paid out of band."}
