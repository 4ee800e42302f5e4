"""Wallets and wallet transactions (docs/billing-semantics.md §7, docs/credits.md).

Views parse, call a service, and render.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload
from customers.api.scoped import customer_list_view
from invoicing.credits import selectors
from invoicing.credits.api import filters
from invoicing.credits.api import serializers as s
from invoicing.credits.representation import wallet_payload, wallet_transaction_payload
from invoicing.credits.services import wallets as services


def _wallet_body(wallet: Any) -> dict[str, Any]:
    return {"wallet": wallet_payload(wallet)}


def _transactions(items: Any) -> list[dict[str, Any]]:
    return [wallet_transaction_payload(tx) for tx in items]


def _wallets(items: Any) -> list[dict[str, Any]]:
    return [wallet_payload(w) for w in items]


def wallet_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /wallets` (and `GET /customers/{external_id}/wallets`) for parsed filters."""
    qs = selectors.wallet_list(
        organization, external_customer_id=params["external_customer_id"], status=params["status"]
    )
    return paginated_response(request, qs, "wallets", _wallets)


class WalletCollectionView(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(
        operation_id="wallets_list",
        summary="List wallets",
        parameters=filters.WalletFilters.schema_parameters(),
        responses=s.WalletListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return wallet_list_answer(request, self.organization, filters.WalletFilters.parse(request))

    @extend_schema(
        operation_id="wallets_create",
        summary="Create a wallet",
        request=s.WalletInputEnvelope,
        responses=s.WalletEnvelope,
    )
    def post(self, request: Request) -> Response:
        wallet = services.wallet_create(
            self.organization, data=root_payload(request, "wallet", lago_only=s.WALLET_LAGO_ONLY)
        )
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))


class WalletDetailView(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(operation_id="wallets_retrieve", summary="Retrieve a wallet", responses=s.WalletEnvelope)
    def get(self, request: Request, wallet_id: str) -> Response:
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet_id)))

    @extend_schema(
        operation_id="wallets_update",
        summary="Update a wallet",
        request=s.WalletInputEnvelope,
        responses=s.WalletEnvelope,
    )
    def put(self, request: Request, wallet_id: str) -> Response:
        wallet = services.wallet_update(
            self.organization, wallet_id=wallet_id, data=root_payload(request, "wallet", lago_only=s.WALLET_LAGO_ONLY)
        )
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))

    @extend_schema(
        operation_id="wallets_terminate",
        summary="Terminate a wallet (its remaining credits are voided)",
        responses=s.WalletEnvelope,
    )
    def delete(self, request: Request, wallet_id: str) -> Response:
        wallet = services.wallet_terminate(self.organization, wallet_id=wallet_id)
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))


class _CustomerWalletCreate(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(
        operation_id="customer_wallets_create",
        summary="Create a wallet for the customer of the path",
        request=s.WalletInputEnvelope,
        responses=s.WalletEnvelope,
    )
    def post(self, request: Request, external_id: str) -> Response:
        payload = root_payload(request, "wallet", lago_only=s.WALLET_LAGO_ONLY)
        wallet = services.wallet_create(self.organization, data={**payload, "external_customer_id": external_id})
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))


CustomerWalletCollectionView = customer_list_view(
    "wallets",
    filters.WalletFilters,
    wallet_list_answer,
    s.WalletListEnvelope,
    resource_name="wallet",
    base=_CustomerWalletCreate,
)


class CustomerWalletDetailView(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(
        operation_id="customer_wallets_retrieve",
        summary="Retrieve a customer's wallet by code",
        responses=s.WalletEnvelope,
    )
    def get(self, request: Request, external_id: str, code: str) -> Response:
        return Response(_wallet_body(selectors.wallet_get_by_code(self.organization, external_id, code)))

    @extend_schema(
        operation_id="customer_wallets_update",
        summary="Update a customer's wallet by code",
        request=s.WalletInputEnvelope,
        responses=s.WalletEnvelope,
    )
    def put(self, request: Request, external_id: str, code: str) -> Response:
        found = selectors.wallet_get_by_code(self.organization, external_id, code)
        wallet = services.wallet_update(
            self.organization, wallet_id=found.id, data=root_payload(request, "wallet", lago_only=s.WALLET_LAGO_ONLY)
        )
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))

    @extend_schema(
        operation_id="customer_wallets_terminate",
        summary="Terminate a customer's wallet by code",
        responses=s.WalletEnvelope,
    )
    def delete(self, request: Request, external_id: str, code: str) -> Response:
        found = selectors.wallet_get_by_code(self.organization, external_id, code)
        wallet = services.wallet_terminate(self.organization, wallet_id=found.id)
        return Response(_wallet_body(selectors.wallet_get(self.organization, wallet.id)))


class WalletTransactionCollectionView(OrganizationAPIView):
    resource_name = "wallet_transaction"

    @extend_schema(
        operation_id="wallet_transactions_create",
        summary="Top up (paid, granted) or void credits",
        request=s.WalletTransactionInputEnvelope,
        responses=s.WalletTransactionListEnvelope,
    )
    def post(self, request: Request) -> Response:
        payload = root_payload(request, "wallet_transaction", lago_only=s.WALLET_TRANSACTION_LAGO_ONLY)
        rows = services.wallet_transaction_create(self.organization, data=payload)
        return Response({"wallet_transactions": _transactions(rows)})


class WalletTransactionDetailView(OrganizationAPIView):
    resource_name = "wallet_transaction"

    @extend_schema(
        operation_id="wallet_transactions_retrieve",
        summary="Retrieve a wallet transaction",
        responses=s.WalletTransactionEnvelope,
    )
    def get(self, request: Request, transaction_id: str) -> Response:
        tx = selectors.wallet_transaction_get(self.organization, transaction_id)
        return Response({"wallet_transaction": wallet_transaction_payload(tx)})


class WalletTransactionListView(OrganizationAPIView):
    resource_name = "wallet_transaction"

    @extend_schema(
        operation_id="wallet_transactions_list",
        summary="List a wallet's transactions",
        parameters=filters.WalletTransactionFilters.schema_parameters(),
        responses=s.WalletTransactionListEnvelope,
    )
    def get(self, request: Request, wallet_id: str) -> Response:
        params = filters.WalletTransactionFilters.parse(request)
        qs = selectors.wallet_transaction_list(
            self.organization,
            wallet_id=wallet_id,
            status=params["status"],
            transaction_type=params["transaction_type"],
            transaction_status=params["transaction_status"],
        )
        return paginated_response(request, qs, "wallet_transactions", _transactions)
