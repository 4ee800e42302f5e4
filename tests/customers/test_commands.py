from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import ApiKey, Customer, Organization
from customers.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_organization_prints_a_working_key():
    output = run("create_organization", "Acme", "--currency", "EUR")
    raw_key = output.split("API key (shown once): ")[1].strip()
    api_key = api_key_authenticate(raw_key)
    assert api_key is not None
    assert api_key.organization.name == "Acme"
    assert api_key.organization.default_currency == "EUR"


def test_create_organization_rejects_bad_currency():
    with pytest.raises(CommandError):
        run("create_organization", "Bad", "--currency", "EURO")
    assert not Organization.objects.filter(name="Bad").exists()


def test_create_and_revoke_api_key():
    run("create_organization", "Acme")
    output = run("create_api_key", "Acme", "--name", "ci")
    raw_key = output.rsplit(": ", 1)[1].strip()
    api_key = api_key_authenticate(raw_key)
    assert api_key is not None and api_key.name == "ci"
    assert "Revoked" in run("revoke_api_key", api_key.prefix)
    assert api_key_authenticate(raw_key) is None
    assert "already revoked" in run("revoke_api_key", api_key.prefix)
    with pytest.raises(CommandError):
        run("revoke_api_key", "nope")
    with pytest.raises(CommandError):
        run("create_api_key", "Unknown Org")


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    first = run("seed_demo")
    counts = (Organization.objects.count(), ApiKey.objects.count(), Customer.objects.count())
    second = run("seed_demo")
    assert (Organization.objects.count(), ApiKey.objects.count(), Customer.objects.count()) == counts
    assert "bxb_demo_local_only_key" in first and "bxb_demo_local_only_key" in second
    assert api_key_authenticate("bxb_demo_local_only_key").organization.name == "bxb Demo"


def test_seed_demo_refuses_production_database_without_force(settings, monkeypatch):
    from customers.management.commands import seed_demo

    settings.DEBUG = False
    monkeypatch.setattr(seed_demo, "is_local_database", lambda: False)
    with pytest.raises(CommandError):
        run("seed_demo")
    assert not Organization.objects.filter(name="bxb Demo").exists()
    assert "Demo API key" in run("seed_demo", "--force")
