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


def test_create_organization_refuses_a_name_already_taken():
    run("create_organization", "Ops")
    with pytest.raises(CommandError, match="value_already_exist"):
        run("create_organization", " ops ")
    assert Organization.objects.filter(name__iexact="ops").count() == 1


def test_commands_find_an_organization_by_id_or_unambiguous_name():
    from customers.management.commands.create_api_key import find_organization
    from tests.factories.customers import OrganizationFactory

    first, second = OrganizationFactory(name="Ops"), OrganizationFactory(name="Ops")
    alone = OrganizationFactory(name="Solo")
    assert find_organization("Solo") == alone
    assert find_organization(str(second.id)) == second
    with pytest.raises(CommandError) as refused:
        find_organization("Ops")
    assert str(first.id) in str(refused.value) and str(second.id) in str(refused.value)
    for unknown in ("Nobody", "00000000-0000-0000-0000-000000000000", ""):
        with pytest.raises(CommandError, match="no organization"):
            find_organization(unknown)
