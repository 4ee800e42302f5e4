"""The finance console shows times in the organization's timezone (docs/console.md, "Dates").

Which organization a console page is about:

1. the one the request names (`?organization=<id>` on the console's pages, or the admin lists'
   `?organization__id__exact=<id>` filter); the choice is remembered in the session;
2. on an object's page, the organization the object belongs to;
3. the organization chosen last in this session;
4. the first organization by name (the one the finance home shows when none is chosen).

With no organization at all, times are in UTC. Every datetime the
console renders carries its zone's abbreviation (`billing_project/formats`), and the navigation
names the zone, so a time is never read in the wrong zone. Dates (issuing date, due date) are
calendar dates and are shown as stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone

from customers.models import Organization

SESSION_KEY = "console_organization_id"
REQUEST_KEYS = ("organization", "organization__id__exact")


def _named(request: HttpRequest) -> str | None:
    for key in REQUEST_KEYS:
        value = request.GET.get(key) or request.POST.get(key)
        if value:
            return value
    return None


def _object_organization_id(request: HttpRequest) -> Any:
    """The organization of the object whose admin page this is (None: not an object page, or an
    object without an organization)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    object_id = match.kwargs.get("object_id")
    if not object_id or not (match.url_name or "").endswith("_change"):
        return None
    for model in admin.site._registry:
        opts = model._meta
        if match.url_name != f"{opts.app_label}_{opts.model_name}_change":
            continue
        if model is Organization:
            return object_id
        try:
            opts.get_field("organization")
        except FieldDoesNotExist:
            return None
        try:
            return model._default_manager.filter(pk=object_id).values_list("organization_id", flat=True).first()
        except (ValueError, TypeError, ValidationError):
            return None  # a malformed id: the admin answers it
    return None


def _find(organization_id: Any) -> Organization | None:
    try:
        return Organization.objects.only("id", "name", "timezone").filter(pk=organization_id).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id names no organization
        return None


def console_organization(request: HttpRequest) -> Organization | None:
    """The organization this console request is about, by the rules above; remembers a choice."""
    session = getattr(request, "session", None)
    named = _named(request)
    if named:
        organization = _find(named)
        if organization is not None:
            if session is not None:
                session[SESSION_KEY] = str(organization.pk)
            return organization
    owner = _object_organization_id(request)
    if owner is not None:
        organization = _find(owner)
        if organization is not None:
            return organization
    remembered = session.get(SESSION_KEY) if session is not None else None
    if remembered:
        organization = _find(remembered)
        if organization is not None:
            return organization
    return Organization.objects.only("id", "name", "timezone").order_by("name").first()


def organization_zone(organization: Organization | None) -> ZoneInfo:
    try:
        return ZoneInfo(organization.timezone or "UTC") if organization else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class ConsoleTimezoneMiddleware:
    """Renders the admin's pages in the timezone of the organization they are about."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/admin/") or not getattr(request, "user", None):
            return self.get_response(request)
        if not (request.user.is_authenticated and request.user.is_staff):
            return self.get_response(request)
        with timezone.override(organization_zone(console_organization(request))):
            return self.get_response(request)
