"""Credits: wallets and their ledger, recurring top-up rules, credit notes and what invoices consume
of them (docs/credits.md).

A package of the invoicing app, not an app of its own: its models keep the `invoicing` app label
and tables. `models`, `selectors` (reads), `services/` (writes: `wallets`, `wallet_rules`,
`credit_notes`, `documents` for PDFs, `invoices` for what finalizing or voiding an invoice does to
credits), `representation` (API and webhook payloads), `api/`, `admin`, `tasks`, `receivers`.
Coupons and applied coupons are catalog models (`catalog/services/coupons.py`); what an invoice
deducts for them is in `invoicing/services/totals.py`.
"""
