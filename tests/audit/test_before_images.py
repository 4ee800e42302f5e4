"""The audit trail's before-images travel in maps keyed by the instance (billing_project/core/rowimages.py),
never as attributes of the instance; and no module sets private attributes on another's objects."""

from __future__ import annotations

import ast
import gc
import pathlib

import pytest
from django.db import IntegrityError, transaction

from audit import recorder
from audit.models import AuditLogEntry
from billing_project.core.errors import ValidationFailure
from billing_project.core.rowimages import InstanceMap, remember_locked_row, take_locked_row
from customers.inputs import CustomerUpsert
from customers.models import Customer
from customers.services import customer_upsert

REPO = pathlib.Path(__file__).resolve().parents[2]


class Thing:
    pass


def test_an_instance_map_is_keyed_by_identity_and_forgets_collected_objects():
    values: InstanceMap[str] = InstanceMap()
    first, second = Thing(), Thing()
    values.put(first, "a")
    values.put(second, "b")
    assert values.pop(first) == "a" and values.pop(first) is None
    del second
    gc.collect()
    assert len(values) == 0


@pytest.mark.django_db
def test_the_locked_row_belongs_to_its_instance_only(organization):
    customer, _ = customer_upsert(organization, CustomerUpsert(external_id="r1", name="Before"))
    locked = Customer.objects.get(pk=customer.pk)
    remember_locked_row(locked)
    other = Customer.objects.get(pk=customer.pk)  # another instance of the row: not its image
    assert take_locked_row(other) is None
    row = take_locked_row(locked)
    assert row is not None and row["name"] == "Before"
    assert take_locked_row(locked) is None  # consumed
    assert "_locked_row" not in vars(locked) and "_audit_before" not in vars(locked)


@pytest.mark.django_db
def test_a_refused_upsert_leaves_no_before_image_for_the_next_save(organization):
    customer, _ = customer_upsert(organization, CustomerUpsert(external_id="r2", name="One"))
    with pytest.raises(ValidationFailure):
        customer_upsert(organization, CustomerUpsert(external_id="r2", currency="XXX1"))
    gc.collect()
    customer.name = "Two"
    customer.save()
    update = AuditLogEntry.objects.filter(object_id=str(customer.pk), action="update").get()
    assert update.changes == {"name": ["One", "Two"]}
    assert len(recorder._BEFORE) == 0


@pytest.mark.django_db
def test_a_save_that_fails_between_the_signals_misleads_no_later_save(organization):
    first, _ = customer_upsert(organization, CustomerUpsert(external_id="r3"))
    second, _ = customer_upsert(organization, CustomerUpsert(external_id="r4", name="Four"))
    loaded = Customer.objects.get(pk=second.pk)
    loaded.external_id = first.external_id  # the live external id is unique: the UPDATE fails
    with pytest.raises(IntegrityError), transaction.atomic():
        loaded.save()
    # pre_save's image waits in the recorder's map, for that instance only (it dies with it).
    fresh = Customer.objects.get(pk=second.pk)
    fresh.name = "Quatre"
    fresh.save()
    assert recorder._BEFORE.pop(fresh) is None
    update = AuditLogEntry.objects.filter(object_id=str(second.pk), action="update").get()
    assert update.changes == {"name": ["Four", "Quatre"]}
    # The same instance saved again: its image is read again, not the failed save's.
    loaded.external_id, loaded.name = "r4", "Vier"
    loaded.save()
    assert recorder._BEFORE.pop(loaded) is None
    last = AuditLogEntry.objects.filter(object_id=str(second.pk), action="update").order_by("-created_at")[0]
    assert last.changes == {"name": ["Quatre", "Vier"]}


_ALLOWED_PRIVATE_WRITES = {
    # A fresh instance of the module's own model, built as `Model.from_db` builds it (the key cache).
    ("customers/auth.py", "_state"),
    # A fresh unsaved instance, built as `Model.__init__` builds it (`new_row`: the billing run's rows).
    ("billing_project/core/bulk.py", "_state"),
}


def _private_writes(path: pathlib.Path) -> list[tuple[int, str]]:
    """`obj._name = ...` (obj not self/cls), `obj.__dict__[...] = ...` and `setattr(obj, "_name", ...)`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.stmt | ast.expr):
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr.startswith("_")
                and not target.attr.startswith("__")
                and not (isinstance(target.value, ast.Name) and target.value.id in {"self", "cls"})
            ):
                found.append((node.lineno, target.attr))
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Attribute)
                and target.value.attr == "__dict__"
            ):
                found.append((node.lineno, "__dict__"))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
        ):
            found.append((node.lineno, str(node.args[1].value)))
    return found


def test_no_module_sets_private_attributes_on_objects_it_does_not_own():
    offenders = []
    for path in sorted(REPO.rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith((".venv/", "tests/", "bench/", "scripts/")) or "/migrations/" in relative:
            continue
        offenders += [
            f"{relative}:{line} {name}"
            for line, name in _private_writes(path)
            if (relative, name) not in _ALLOWED_PRIVATE_WRITES
        ]
    assert offenders == []
