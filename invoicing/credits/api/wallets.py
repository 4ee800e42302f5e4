"""Wallets and wallet transactions (docs/billing-semantics.md §7, docs/credits.md).

Views parse, call a service, and render.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PageFilters
from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.resources import ResourceView, endpoint
from customers.api.scoped import customer_list_view
from customers.entities import billing_entity_ids
from invoicing.credits import selectors
from invoicing.credits.api import filters
from invoicing.credits.api import serializers as s
from invoicing.credits.inputs import WalletCreate, WalletTransactionCreate, WalletUpdate
from invoicing.credits.representation import (
    wallet_payload,
    wallet_transaction_consumption_payload,
    wallet_transaction_payload,
)
from invoicing.credits.services import wallets as services


def wallet_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /wallets` (and `GET /customers/{external_id}/wallets`) for parsed filters."""
    qs = selectors.wallet_list(
        organization,
        external_customer_id=params["external_customer_id"],
        status=params["status"],
        currency=params["currency"],
        billing_entity_ids=billing_entity_ids(organization, params["billing_entity_codes"]),
    )
    return paginated_response(request, qs, "wallets", lambda items: [wallet_payload(w) for w in items])


class WalletView(ResourceView):
    resource_name = "wallet"
    render = staticmethod(wallet_payload)

    def reread(self, wallet: Any) -> Response:
        """The wallet as the API shows it, read again after a service changed it."""
        return self.one(selectors.wallet_get(self.organization, wallet.id))

    def input(self, request: Request) -> dict[str, Any]:
        """The wallet object of the body (its fields checked by `invoicing.credits.inputs`)."""
        return self.body(request, lago_only=s.WALLET_LAGO_ONLY)


class WalletCollectionView(WalletView):
    @endpoint("wallets_list", s.WalletListEnvelope, parameters=filters.WalletFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List wallets"""
        return wallet_list_answer(request, self.organization, filters.WalletFilters.parse(request))

    @endpoint("wallets_create", s.WalletEnvelope, request=s.WalletInputEnvelope)
    def post(self, request: Request) -> Response:
        """Create a wallet"""
        return self.reread(services.wallet_create(self.organization, WalletCreate.from_body(self.input(request))))


class WalletDetailView(WalletView):
    @endpoint("wallets_retrieve", s.WalletEnvelope)
    def get(self, request: Request, wallet_id: str) -> Response:
        """Retrieve a wallet"""
        return self.one(selectors.wallet_get(self.organization, wallet_id))

    @endpoint("wallets_update", s.WalletEnvelope, request=s.WalletInputEnvelope)
    def put(self, request: Request, wallet_id: str) -> Response:
        """Update a wallet"""
        fields = WalletUpdate.from_body(self.input(request))
        return self.reread(services.wallet_update(self.organization, wallet_id=wallet_id, fields=fields))

    @endpoint("wallets_terminate", s.WalletEnvelope)
    def delete(self, request: Request, wallet_id: str) -> Response:
        """Terminate a wallet (its remaining credits are voided)"""
        return self.reread(services.wallet_terminate(self.organization, wallet_id=wallet_id))


class _CustomerWalletCreate(WalletView):
    @endpoint("customer_wallets_create", s.WalletEnvelope, request=s.WalletInputEnvelope)
    def post(self, request: Request, external_id: str) -> Response:
        """Create a wallet for the customer of the path"""
        data = {**self.input(request), "external_customer_id": external_id}
        return self.reread(services.wallet_create(self.organization, WalletCreate.from_body(data)))


CustomerWalletCollectionView = customer_list_view(
    "wallets", filters.WalletFilters, wallet_list_answer, s.WalletListEnvelope, base=_CustomerWalletCreate
)


class CustomerWalletDetailView(WalletView):
    @endpoint("customer_wallets_retrieve", s.WalletEnvelope)
    def get(self, request: Request, external_id: str, code: str) -> Response:
        """Retrieve a customer's wallet by code"""
        return self.one(selectors.wallet_get_by_code(self.organization, external_id, code))

    @endpoint("customer_wallets_update", s.WalletEnvelope, request=s.WalletInputEnvelope)
    def put(self, request: Request, external_id: str, code: str) -> Response:
        """Update a customer's wallet by code"""
        found = selectors.wallet_get_by_code(self.organization, external_id, code)
        fields = WalletUpdate.from_body(self.input(request))
        return self.reread(services.wallet_update(self.organization, wallet_id=found.id, fields=fields))

    @endpoint("customer_wallets_terminate", s.WalletEnvelope)
    def delete(self, request: Request, external_id: str, code: str) -> Response:
        """Terminate a customer's wallet by code"""
        found = selectors.wallet_get_by_code(self.organization, external_id, code)
        return self.reread(services.wallet_terminate(self.organization, wallet_id=found.id))


class WalletTransactionView(ResourceView):
    resource_name = "wallet_transaction"
    render = staticmethod(wallet_transaction_payload)


class WalletTransactionCollectionView(WalletTransactionView):
    @endpoint("wallet_transactions_create", s.WalletTransactionListEnvelope, request=s.WalletTransactionInputEnvelope)
    def post(self, request: Request) -> Response:
        """Top up (paid, granted) or void credits"""
        payload = self.body(request, lago_only=s.WALLET_TRANSACTION_LAGO_ONLY)
        rows = services.wallet_transaction_create(self.organization, WalletTransactionCreate.from_body(payload))
        return Response({"wallet_transactions": self.render_many(rows)})


class WalletTransactionDetailView(WalletTransactionView):
    @endpoint("wallet_transactions_retrieve", s.WalletTransactionEnvelope)
    def get(self, request: Request, transaction_id: str) -> Response:
        """Retrieve a wallet transaction"""
        return self.one(selectors.wallet_transaction_get(self.organization, transaction_id))


class WalletTransactionListView(WalletTransactionView):
    @endpoint(
        "wallet_transactions_list",
        s.WalletTransactionListEnvelope,
        parameters=filters.WalletTransactionFilters.schema_parameters(),
    )
    def get(self, request: Request, wallet_id: str) -> Response:
        """List a wallet's transactions"""
        params = filters.WalletTransactionFilters.parse(request)
        qs = selectors.wallet_transaction_list(
            self.organization,
            wallet_id=wallet_id,
            status=params["status"],
            transaction_type=params["transaction_type"],
            transaction_status=params["transaction_status"],
        )
        return self.page(request, qs)


class WalletTransactionConsumptionListView(ResourceView):
    """`GET /wallet_transactions/{id}/consumptions`: the outbound lines an inbound line funded
    (docs/credits.md, "Traceability")."""

    resource_name = "wallet_transaction"
    list_key = "wallet_transaction_consumptions"
    fundings = False

    def render(self, row: Any) -> Any:
        counterpart = row.inbound if self.fundings else row.outbound
        return wallet_transaction_consumption_payload(row, counterpart=counterpart)

    @endpoint(
        "wallet_transactions_consumptions",
        s.WalletTransactionConsumptionListEnvelope,
        parameters=PageFilters.schema_parameters(),
    )
    def get(self, request: Request, transaction_id: str) -> Response:
        """The outbound transactions an inbound one funded"""
        PageFilters.parse(request)
        qs = selectors.wallet_transaction_pairings(self.organization, transaction_id, fundings=self.fundings)
        return self.page(request, qs)


@extend_schema_view(
    get=endpoint(
        "wallet_transactions_fundings",
        s.WalletTransactionFundingListEnvelope,
        summary="The inbound transactions that funded an outbound one",
    )
)
class WalletTransactionFundingListView(WalletTransactionConsumptionListView):
    """`GET /wallet_transactions/{id}/fundings`: the inbound lines that funded an outbound line."""

    list_key = "wallet_transaction_fundings"
    fundings = True
