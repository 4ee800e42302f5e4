"""Routes of wallets, wallet transactions and credit notes (mounted by `billing_project.urls` with the other apps' API routes)."""

from billing_project.core.api.resources import resource_routes, route
from invoicing.credits.api import credit_notes as notes
from invoicing.credits.api import metadata
from invoicing.credits.api import wallets as w

urlpatterns = [
    *resource_routes("wallets", "wallet_id", w.WalletCollectionView, w.WalletDetailView),
    route("wallets/<str:wallet_id>/wallet_transactions", w.WalletTransactionListView, "wallet-transactions"),
    route("wallet_transactions", w.WalletTransactionCollectionView, "wallet-transaction-create"),
    route("wallet_transactions/<str:transaction_id>", w.WalletTransactionDetailView, "wallet-transaction-detail"),
    route(
        "wallet_transactions/<str:transaction_id>/consumptions",
        w.WalletTransactionConsumptionListView,
        "wallet-transaction-consumptions",
    ),
    route(
        "wallet_transactions/<str:transaction_id>/fundings",
        w.WalletTransactionFundingListView,
        "wallet-transaction-fundings",
    ),
    route("customers/<str:external_id>/wallets", w.CustomerWalletCollectionView, "customer-wallets"),
    route("customers/<str:external_id>/wallets/<str:code>", w.CustomerWalletDetailView, "customer-wallet-detail"),
    route(
        "customers/<str:external_id>/wallets/<str:code>/metadata",
        metadata.CustomerWalletMetadataView,
        "customer-wallet-metadata",
    ),
    route(
        "customers/<str:external_id>/wallets/<str:code>/metadata/<str:key>",
        metadata.CustomerWalletMetadataKeyView,
        "customer-wallet-metadata-key",
    ),
    route("wallets/<str:wallet_id>/metadata", metadata.WalletMetadataView, "wallet-metadata"),
    route("wallets/<str:wallet_id>/metadata/<str:key>", metadata.WalletMetadataKeyView, "wallet-metadata-key"),
    route("credit_notes/<str:credit_note_id>/metadata", metadata.CreditNoteMetadataView, "credit-note-metadata"),
    route(
        "credit_notes/<str:credit_note_id>/metadata/<str:key>",
        metadata.CreditNoteMetadataKeyView,
        "credit-note-metadata-key",
    ),
    route("credit_notes", notes.CreditNoteCollectionView, "credit-notes"),
    route("customers/<str:external_id>/credit_notes", notes.CustomerCreditNoteListView, "customer-credit-notes"),
    route("credit_notes/estimate", notes.CreditNoteEstimateView, "credit-note-estimate"),
    route("credit_notes/<str:credit_note_id>", notes.CreditNoteDetailView, "credit-note-detail"),
    route("credit_notes/<str:credit_note_id>/void", notes.CreditNoteVoidView, "credit-note-void"),
    route("credit_notes/<str:credit_note_id>/download", notes.CreditNoteDownloadView, "credit-note-download"),
    route(
        "credit_notes/<str:credit_note_id>/download_pdf", notes.CreditNoteDownloadPdfView, "credit-note-download-pdf"
    ),
]
