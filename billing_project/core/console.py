"""Shared pieces of the finance console (Django admin): the read-only base for ledgers, the one
permission check every custom admin view and download goes through, and money as people read it.

Imports no app (kernel rule); each app's `admin.py` and the `console` app use these.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import update_wrapper
from operator import attrgetter
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse

from billing_project.core.money import exponent, format_amount, from_cents, is_currency, to_cents

# ---------------------------------------------------------------------------------------- ledgers


class _NothingWritable:
    """No add, change or delete permission, whoever asks (the view permission stays the role's)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ShownReadOnly:
    """Every field the page shows is read-only: the declared `readonly_fields`; else the declared
    `fields`; else every field of the model (ids and timestamps included)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        shown: Any = self  # a ModelAdmin or an InlineModelAdmin (the other base of each subclass)
        if shown.readonly_fields:
            return shown.readonly_fields
        if shown.fields:
            return shown.fields
        return [f.name for f in shown.model._meta.fields]


class ReadOnlyAdmin(_ShownReadOnly, _NothingWritable, admin.ModelAdmin):
    """A ledger (fees, payments, events, wallet transactions, webhook deliveries, audit...): rows
    are written by services only, viewable by every role, never added, edited or deleted here.
    State changes, where a ledger has any, are admin actions calling a service."""

    show_full_result_count = False  # no full counts on large tables


class ReadOnlyInline(_ShownReadOnly, _NothingWritable, admin.TabularInline):
    """The rows of a ledger shown inside their parent's page."""

    extra = 0
    max_num = 0
    can_delete = False


class ActionsOnlyAdmin(admin.ModelAdmin):
    """A record that changes only through its buttons and actions (invoices, credit notes, wallets,
    subscriptions, applied coupons): its page shows no SAVE, since no field can be edited, and it is
    never deleted here. It is not added here either, unless the admin has its own add page
    (`added_here = True`, the subscriptions' form calling the service); then the role decides."""

    added_here = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.added_here and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing to save by hand (a crafted POST changes nothing)."""


class ConditionFilter(admin.SimpleListFilter):
    """A list filter whose every choice keeps the rows of one condition: `conditions` maps a
    choice's value to its label and lookup, `{"yes": ("Overdue", Q(payment_overdue=True))}`."""

    conditions: dict[str, tuple[str, Q]]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, label) for value, (label, _) in self.conditions.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.conditions.get(self.value() or "")
        return queryset if chosen is None else queryset.filter(chosen[1])


class TotalsChangeListMixin:
    """A list that shows, above its results, the filtered rows' sums per currency (never added
    across currencies) and links to saved filters. Subclasses give `totals(queryset)`:
    `[("Total", ["1,234.00 USD (3)", ...]), ...]` and `saved_filters`: `[(label, query)]`."""

    change_list_template = "admin/totals_change_list.html"
    saved_filters: tuple[tuple[str, str], ...] = ()
    list_title: str | None = None

    def totals(self, queryset: QuerySet[Any]) -> list[tuple[str, list[str]]]:
        return []

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"title": self.list_title, **(extra_context or {})} if self.list_title else extra_context
        response = super().changelist_view(request, extra)  # type: ignore[misc]
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["currency_totals"] = self.totals(context["cl"].queryset)
            context["saved_filters"] = self.saved_filters
        return response


def currency_totals(queryset: QuerySet[Any], *, amount: Any, currency: str = "currency") -> list[str]:
    """`["1,234.00 USD (3)", "98,000 JPY (1)"]`: a queryset's sum of `amount` per currency."""
    rows = queryset.order_by().values(currency).annotate(total=Sum(amount), count=Count("id")).order_by(currency)
    return [f"{format_amount(r['total'] or 0, r[currency])} ({r['count']})" for r in rows]


# ----------------------------------------------------------------------------- the permission check

View = Callable[..., HttpResponse]


def console_view(admin_site: admin.AdminSite, view: View, *, permission: str) -> View:
    """Every custom admin view and download is registered through here.

    `admin_site.admin_view` sends anonymous users to the login page and refuses inactive or
    non-staff accounts; then the user must hold `permission` (`app_label.codename`, granted by the
    staff roles of `customers/roles.py`), or gets 403 before the view runs, whatever the object.
    The permission is kept on the view (`console_permission`) so a test can walk every custom
    admin URL and check each role against it (tests/core/test_console_permissions.py).
    """

    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    update_wrapper(guarded, view)
    guarded.console_permission = permission  # type: ignore[attr-defined]
    return admin_site.admin_view(guarded)


def permission_of(opts: Any, action: str) -> str:
    """`invoicing.view_invoice` for (Invoice._meta, "view")."""
    return f"{opts.app_label}.{action}_{opts.model_name}"


# ------------------------------------------------------------------------------------------ money


def decimal_display(value: Decimal | int | str | None) -> str:
    """A quantity or rate as people write it: `2321`, `0.5`, `1,234.5` (no trailing zeros)."""
    if value is None or value == "":
        return "-"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.normalize():f}"
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def decimal_column(attribute: str, description: str, *, ordering: str | None = None) -> Callable[..., str]:
    """An admin display method: the quantity at `attribute` as `decimal_display` writes it, declared
    in one line (`credits = decimal_column("credit_amount", "credits", ordering="credit_amount")`)."""
    value_of = attrgetter(attribute)

    def column(model_admin: Any, obj: Any) -> str:
        return decimal_display(value_of(obj))

    return admin.display(description=description, ordering=ordering)(column)


def money(cents: int | None, currency: str | None) -> str:
    """`1,234.56 USD`, `1,500 JPY`, `1.250 KWD`: the currency's own number of decimals."""
    return format_amount(cents, currency)


def major_units(cents: int | None, currency: str | None) -> Decimal | None:
    """The amount a form shows for stored cents (exact)."""
    if cents is None or not is_currency(currency):
        return None
    return from_cents(int(cents), str(currency))


def cents_from_major(amount: Decimal, currency: str) -> int:
    """Major units typed by a person to stored cents; refuses more decimals than the currency has
    (a JPY amount has none) instead of rounding what someone typed."""
    places = exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        unit = "no decimals" if places == 0 else f"at most {places} decimals"
        raise forms.ValidationError(f"{currency} amounts have {unit}.")
    return to_cents(amount, currency)
