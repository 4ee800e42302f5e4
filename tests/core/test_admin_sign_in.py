"""Admin sign-in protection: lockout after repeated failures (django-axes) and TOTP two-factor for
staff (django-otp), on by default in production settings (billing_project/core/staff_auth.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/admin/login/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("finance", password="right-pw", is_staff=True, is_superuser=True)


def _login(client, password: str, *, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": "finance", "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def _code(device: TOTPDevice) -> str:
    """The code the authenticator app shows now."""
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return str(token).zfill(device.digits)


def test_repeated_failures_lock_the_account_out_from_that_address(client, staff):
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    assert _login(client, "wrong").status_code == 429  # the fifth failure locks out
    locked = _login(client, "right-pw")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not locked out for this username.
    assert _login(client, "right-pw", ip="10.0.0.2").status_code == 302


def test_a_successful_login_resets_the_failure_count(client, staff):
    for _ in range(4):
        _login(client, "wrong")
    assert _login(client, "right-pw").status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "wrong")
    assert _login(client, "right-pw").status_code == 302


@override_settings(AXES_ENABLED=False)
def test_lockout_can_be_turned_off(client, staff):
    for _ in range(8):
        _login(client, "wrong")
    assert _login(client, "right-pw").status_code == 302


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_staff_with_an_authenticator_must_enter_a_code(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    assert _login(client, "right-pw").status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/two-factor/")
    assert client.get("/admin/customers/customer/").status_code == 302  # every admin page
    assert client.get("/admin/two-factor/").status_code == 200
    wrong = client.post("/admin/two-factor/", {"otp_token": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert client.get("/admin/").status_code == 302
    right = client.post("/admin/two-factor/", {"otp_token": _code(device), "next": "/admin/"})
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_wrong_codes_are_throttled(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    _login(client, "right-pw")
    assert client.post("/admin/two-factor/", {"otp_token": "not-a-code"}).status_code == 400  # not even a code
    wrong = "000000" if _code(device) != "000000" else "111111"
    assert client.post("/admin/two-factor/", {"otp_token": wrong}).status_code == 400
    # Right after a wrong code even the right one waits (django-otp's growing delay).
    assert client.post("/admin/two-factor/", {"otp_token": _code(device)}).status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1


def test_the_api_is_not_touched_by_the_admin_sign_in(tenant):
    assert tenant.client.get("/api/v1/customers").status_code == 200


def test_staff_without_an_authenticator_sign_in_with_the_password_when_not_required(client, staff):
    assert _login(client, "right-pw").status_code == 302
    assert client.get("/admin/").status_code == 200


@override_settings(ADMIN_OTP_REQUIRED=True)
def test_when_required_staff_enroll_an_authenticator_at_sign_in(client, staff):
    assert _login(client, "right-pw").status_code == 302
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")
    page = client.get("/admin/two-factor/")
    assert page.status_code == 200
    assert "otpauth://totp/" in page.content.decode()
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert page.context["secret"]
    assert client.post("/admin/two-factor/", {"otp_token": _code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200


@override_settings(ADMIN_OTP=False, ADMIN_OTP_REQUIRED=True)
def test_two_factor_can_be_turned_off(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    _login(client, "right-pw")
    assert client.get("/admin/").status_code == 200


def test_the_two_factor_page_needs_a_signed_in_staff_account(client):
    response = client.get("/admin/two-factor/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def _settings_in(env: dict[str, str]) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    full_env.update({"DJANGO_SETTINGS_MODULE": "billing_project.settings", "SECRET_KEY": "x", **env})
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.AXES_ENABLED, s.ADMIN_OTP, s.ADMIN_OTP_REQUIRED, s.AXES_FAILURE_LIMIT]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_on_by_default_in_production_settings_and_off_for_the_local_demo():
    assert _settings_in({}) == [True, True, True, 5]
    assert _settings_in({"DEBUG": "1"}) == [False, False, False, 5]
    assert _settings_in({"ADMIN_LOCKOUT": "0", "ADMIN_OTP_REQUIRED": "0", "ADMIN_LOCKOUT_FAILURES": "10"}) == [
        False,
        True,
        False,
        10,
    ]
