"""Kernel signals any app may send.

bulk_created   rows were written with `bulk_create` (which sends no `post_save`). Carries `sender`
               (the model) and `instances` (the saved objects). The audit app records them as it
               records a `post_save(created=True)`, in bulk, in the sender's transaction.
"""

from django.dispatch import Signal

bulk_created = Signal()
