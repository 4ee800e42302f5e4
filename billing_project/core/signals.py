"""Kernel signals any app may send.

bulk_created   rows were written with `bulk_create` (which sends no `post_save`). Carries `sender`
               (the model) and `instances` (the saved objects). The audit app records them as it
               records a `post_save(created=True)`, in bulk, in the sender's transaction.
bulk_updated   rows were changed with `QuerySet.update()` (which sends no signal), through
               `billing_project.core.bulk.update_rows`. Carries `sender` (the model), `before`
               (`{pk: {attname: value}}` of the updated fields, as read before the update) and
               `instances` (the rows as read after it). The audit app records one "update" per
               row that changed, in one INSERT, in the sender's transaction.
"""

from django.dispatch import Signal

bulk_created = Signal()
bulk_updated = Signal()
