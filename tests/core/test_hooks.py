"""Typed hooks (billing_project/core/hooks.py): every hook a lower app declares is filled at start-up
by the app it names, and the start-up check fails when one is not."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from billing_project.core.hooks import Hook, hooks_check
from catalog import hooks as catalog_hooks
from customers import hooks as customer_hooks

ALL = [*customer_hooks.ALL, *catalog_hooks.ALL]


@pytest.mark.parametrize("hook", ALL, ids=lambda hook: hook.name)
def test_every_hook_is_filled_with_its_protocol_at_start_up(hook):
    assert hook.filled
    assert isinstance(hook.get(), hook.protocol)


def test_the_start_up_checks_pass():
    assert hooks_check("customers", customer_hooks.ALL)() == []
    assert hooks_check("catalog", catalog_hooks.ALL)() == []
    call_command("check")


@pytest.mark.parametrize(("app_label", "hooks"), [("customers", customer_hooks.ALL), ("catalog", catalog_hooks.ALL)])
def test_an_empty_hook_fails_the_start_up_check_and_is_never_guessed(monkeypatch, app_label, hooks):
    for hook in hooks:
        monkeypatch.setattr(hook, "_impl", None)
    errors = hooks_check(app_label, hooks)()
    assert [error.id for error in errors] == [f"{app_label}.E001"] * len(hooks)
    assert all(hook.filled_by in (error.hint or "") for hook, error in zip(hooks, errors, strict=True))
    for hook in hooks:
        with pytest.raises(ImproperlyConfigured, match=hook.name):
            hook.get()


def test_a_hook_refuses_what_is_not_its_protocol():
    hook: Hook[catalog_hooks.PlanUsage] = Hook("test.plan_usage", catalog_hooks.PlanUsage, filled_by="tests")
    with pytest.raises(ImproperlyConfigured, match="not a PlanUsage"):
        hook.fill(object())  # type: ignore[arg-type]
    assert not hook.filled
