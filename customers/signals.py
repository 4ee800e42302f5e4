"""Signals the customers app sends to the apps below it (see docs/architecture.md: layering).

Receivers only enqueue work on commit; they hold no business rules.
"""

from django.dispatch import Signal

# Sent inside the deleting transaction with `customer` and `organization`.
customer_deleted = Signal()

# Sent inside the upsert's transaction, after the customer and its taxes are saved, with `customer`
# and `created` (True when the upsert inserted it).
customer_upserted = Signal()
