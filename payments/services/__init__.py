"""Payments services (writes). Each owns its transaction; see the modules:

* `connections`: provider credentials per organization (encrypted), the customer's connection.
* `customers`: the provider customer (`sync_with_provider`), setup checkout, saved methods.
* `collection`: attempts, results, the retry schedule, retry_payment, payment_url, manual payments.
* `events`: inbound provider webhooks (stored once, processed after commit, retried when early).
* `refunds`: credit-note refunds through the provider that took the payment.
* `dunning`: campaigns, payment requests, emails.
"""
