"""Sign-in protection of the admin (the finance console) for staff (docs/operations.md, "Admin sign-in").

* **Lockout** (django-axes): after `ADMIN_LOCKOUT_FAILURES` failed logins for one username from one
  address, that pair is refused (429) for `ADMIN_LOCKOUT_MINUTES`; a successful login resets the
  count. `AdminLockoutBackend` is axes' backend, skipped when lockout is off or when a caller
  authenticates without a request (management commands, tests).
* **Two-factor** (django-otp, TOTP): a staff account with a confirmed authenticator device must
  enter a current code after its password before any admin page opens (`/admin/two-factor/`).
  With `ADMIN_OTP_REQUIRED` every staff account needs one: an account without a device enrolls on
  that same page (the secret and the `otpauth://` link for the authenticator app, confirmed by a
  first code). Wrong codes are throttled by django-otp (growing delays).

Both are on by default in production settings (DEBUG off) and off with DEBUG (the local demo).
"""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import django_otp
from axes.backends import AxesStandaloneBackend
from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware
from django_otp.plugins.otp_totp.models import TOTPDevice

from billing_project.core.middleware import ApiPassThrough

TWO_FACTOR_PATH = "/admin/two-factor/"
ENROLLING_DEVICE_NAME = "authenticator"


class AdminLockoutBackend(AxesStandaloneBackend):
    """axes' lockout check, applied to admin logins (which always carry the request)."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> None:  # fmt: skip
        if request is None or not getattr(settings, "AXES_ENABLED", False):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class OTPMiddleware(ApiPassThrough, DjangoOTPMiddleware):
    """django-otp's `request.user.is_verified()`, for the admin only (API requests carry no user)."""


def _otp_on() -> bool:
    return bool(getattr(settings, "ADMIN_OTP", False))


def _otp_required() -> bool:
    return _otp_on() and bool(getattr(settings, "ADMIN_OTP_REQUIRED", False))


def needs_second_factor(user: Any) -> bool:
    """Whether this signed-in staff account must still pass the two-factor page."""
    if not _otp_on() or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if user.is_verified():
        return False
    return _otp_required() or django_otp.user_has_device(user, confirmed=True)


class AdminTwoFactorMiddleware:
    """Sends a staff account that has not passed its second factor to the two-factor page before
    any other admin page (login, logout, the page itself and static files excepted)."""

    OPEN_PATHS = ("/admin/login/", "/admin/logout/", TWO_FACTOR_PATH, "/admin/jsi18n/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/admin/") and not path.startswith(self.OPEN_PATHS):
            user = getattr(request, "user", None)
            if user is not None and needs_second_factor(user):
                return HttpResponseRedirect(f"{TWO_FACTOR_PATH}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class TokenForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _enrolling_device(user: Any) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=ENROLLING_DEVICE_NAME).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=ENROLLING_DEVICE_NAME, confirmed=False)
    return device


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("admin:index")


def two_factor_view(request: HttpRequest) -> HttpResponse:
    """The second step of an admin sign-in: a current TOTP code, or enrolling an authenticator."""
    user = request.user
    if not user.is_authenticated or not user.is_staff:
        return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': TWO_FACTOR_PATH})}")
    if not needs_second_factor(user):
        return HttpResponseRedirect(_safe_next(request))
    enrolling = not django_otp.user_has_device(user, confirmed=True)
    device = _enrolling_device(user) if enrolling else None
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["otp_token"].strip()
        if device is not None:
            verified = device if device.verify_is_allowed()[0] and device.verify_token(token) else None
            if verified is not None:
                verified.confirmed = True
                verified.save(update_fields=["confirmed"])
        else:
            verified = django_otp.match_token(user, token)
        if verified is not None:
            django_otp.login(request, verified)
            return HttpResponseRedirect(_safe_next(request))
    if request.method == "POST":
        error = "That code is not valid (or too many tries: wait a moment and use a fresh code)."
    context = {
        **admin.site.each_context(request),
        "title": "Set up two-factor sign-in" if enrolling else "Two-factor sign-in",
        "form": form,
        "error": error,
        "enrolling": enrolling,
        "secret": b32encode(device.bin_key).decode("ascii") if device is not None else "",
        "config_url": device.config_url if device is not None else "",
        "next": _safe_next(request),
    }
    return render(request, "admin/two_factor.html", context, status=400 if error else 200)
