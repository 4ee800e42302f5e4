"""Routes of wallets, wallet transactions and credit notes (mounted by `billing_project.urls` with the other apps' API routes)."""

from django.urls import path

from invoicing.credits.api import credit_notes, metadata, wallets

urlpatterns = [
    path("wallets", wallets.WalletCollectionView.as_view(), name="wallets"),
    path("wallets/<str:wallet_id>", wallets.WalletDetailView.as_view(), name="wallet-detail"),
    path(
        "wallets/<str:wallet_id>/wallet_transactions",
        wallets.WalletTransactionListView.as_view(),
        name="wallet-transactions",
    ),
    path("wallet_transactions", wallets.WalletTransactionCollectionView.as_view(), name="wallet-transaction-create"),
    path(
        "wallet_transactions/<str:transaction_id>",
        wallets.WalletTransactionDetailView.as_view(),
        name="wallet-transaction-detail",
    ),
    path(
        "customers/<str:external_id>/wallets", wallets.CustomerWalletCollectionView.as_view(), name="customer-wallets"
    ),
    path(
        "customers/<str:external_id>/wallets/<str:code>",
        wallets.CustomerWalletDetailView.as_view(),
        name="customer-wallet-detail",
    ),
    path(
        "customers/<str:external_id>/wallets/<str:code>/metadata",
        metadata.CustomerWalletMetadataView.as_view(),
        name="customer-wallet-metadata",
    ),
    path(
        "customers/<str:external_id>/wallets/<str:code>/metadata/<str:key>",
        metadata.CustomerWalletMetadataKeyView.as_view(),
        name="customer-wallet-metadata-key",
    ),
    path("wallets/<str:wallet_id>/metadata", metadata.WalletMetadataView.as_view(), name="wallet-metadata"),
    path(
        "wallets/<str:wallet_id>/metadata/<str:key>",
        metadata.WalletMetadataKeyView.as_view(),
        name="wallet-metadata-key",
    ),
    path(
        "credit_notes/<str:credit_note_id>/metadata",
        metadata.CreditNoteMetadataView.as_view(),
        name="credit-note-metadata",
    ),
    path(
        "credit_notes/<str:credit_note_id>/metadata/<str:key>",
        metadata.CreditNoteMetadataKeyView.as_view(),
        name="credit-note-metadata-key",
    ),
    path("credit_notes", credit_notes.CreditNoteCollectionView.as_view(), name="credit-notes"),
    path(
        "customers/<str:external_id>/credit_notes",
        credit_notes.CustomerCreditNoteListView.as_view(),
        name="customer-credit-notes",
    ),
    path("credit_notes/estimate", credit_notes.CreditNoteEstimateView.as_view(), name="credit-note-estimate"),
    path("credit_notes/<str:credit_note_id>", credit_notes.CreditNoteDetailView.as_view(), name="credit-note-detail"),
    path("credit_notes/<str:credit_note_id>/void", credit_notes.CreditNoteVoidView.as_view(), name="credit-note-void"),
    path(
        "credit_notes/<str:credit_note_id>/download",
        credit_notes.CreditNoteDownloadView.as_view(),
        name="credit-note-download",
    ),
]
