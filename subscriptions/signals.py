"""Signals the subscriptions app sends to the apps above it in the layering (invoicing, payments).

They are sent inside the transaction that made the change; receivers only enqueue work with
`transaction.on_commit` (docs/architecture.md) and hold no business rules. Every signal carries
`subscription` and `organization`.

subscription_started      a subscription became active (new, future start reached, plan change).
                          `reason`: "", "upgraded", "downgraded_now", "downgrade".
                          Invoicing bills an in-advance base fee of the first period here.
subscription_terminated   an active subscription ended. `reason` = `termination_reason`
                          (manual, upgraded, downgraded, downgraded_now, ending_at,
                          customer_deleted, plan_deleted). Invoicing issues the closing invoice
                          (`on_termination_invoice`) and the credit note (`on_termination_credit_note`).
subscription_canceled     a pending subscription was canceled (never started; nothing to bill).
subscription_trial_ended  the trial ended: an in-advance plan starts billing now, prorated.
fixed_charge_units_changed  (subscription_id, fixed_charge_id, at) an active subscription's quantity
                          of a fixed charge changed at once, on commit: invoicing bills an increase
                          of a fixed charge paid in advance (docs/billing-semantics.md §5.9).
"""

from django.dispatch import Signal

subscription_started = Signal()
subscription_terminated = Signal()
subscription_canceled = Signal()
subscription_trial_ended = Signal()
fixed_charge_units_changed = Signal()
