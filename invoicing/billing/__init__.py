"""The billing run, in one package (docs/invoicing.md, "The billing run").

    due.py       what is due for a subscription at an instant (pure: `due_items`, `DueItem`)
    sweep.py     what is due across customers (`billing_due`), what was billed already (`cursors`)
    snapshot.py  the catalog a batch prices with, read once and frozen (`catalog_snapshot`)
    pricing.py   a charge's usage priced bucket by bucket (`price_charge`), shared with current usage
    fees.py      the fees of a due item (`item_fees`) and their taxes (`fee_taxes`)
    writer.py    gapless numbers and bulk inserts of a batch's invoices (`write`)
    run.py       the one path: `customers_bill` (a batch) and `customer_bill` (a batch of one)
    runs.py      the `BillingRun` record: start, batches, the watchdog (`billing_run_*`)

Every caller bills through `run.py`: the sweep's tasks (`invoicing.bill_customers`), immediate
billing after a subscription change (`services/immediate.py`), the invoice preview, `run_billing`
and the console.
"""
