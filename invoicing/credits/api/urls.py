"""Routes of wallets, wallet transactions and credit notes (mounted by `billing_project.urls` with the other apps' API routes)."""

from billing_project.core.api.resources import resource_routes, route, routes_under
from invoicing.credits.api import credit_notes as notes
from invoicing.credits.api import metadata
from invoicing.credits.api import wallets as w

urlpatterns = [
    *resource_routes("wallets", "wallet_id", w.WalletCollectionView, w.WalletDetailView),
    *routes_under(
        "wallets/<str:wallet_id>",
        "wallet",
        {
            "wallet_transactions": (w.WalletTransactionListView, "wallet-transactions"),
            "metadata": metadata.WalletMetadataView,
            "metadata/<str:key>": metadata.WalletMetadataKeyView,
        },
    ),
    route("wallet_transactions", w.WalletTransactionCollectionView, "wallet-transaction-create"),
    *routes_under(
        "wallet_transactions/<str:transaction_id>",
        "wallet-transaction",
        {
            "": w.WalletTransactionDetailView,
            "consumptions": w.WalletTransactionConsumptionListView,
            "fundings": w.WalletTransactionFundingListView,
        },
    ),
    route("customers/<str:external_id>/wallets", w.CustomerWalletCollectionView, "customer-wallets"),
    *routes_under(
        "customers/<str:external_id>/wallets/<str:code>",
        "customer-wallet",
        {
            "": w.CustomerWalletDetailView,
            "metadata": metadata.CustomerWalletMetadataView,
            "metadata/<str:key>": metadata.CustomerWalletMetadataKeyView,
        },
    ),
    route("credit_notes", notes.CreditNoteCollectionView, "credit-notes"),
    route("customers/<str:external_id>/credit_notes", notes.CustomerCreditNoteListView, "customer-credit-notes"),
    route("credit_notes/estimate", notes.CreditNoteEstimateView, "credit-note-estimate"),
    *routes_under(
        "credit_notes/<str:credit_note_id>",
        "credit-note",
        {
            "": notes.CreditNoteDetailView,
            "void": notes.CreditNoteVoidView,
            "download": notes.CreditNoteDownloadView,
            "download_pdf": notes.CreditNoteDownloadPdfView,
            "metadata": metadata.CreditNoteMetadataView,
            "metadata/<str:key>": metadata.CreditNoteMetadataKeyView,
        },
    ),
]
